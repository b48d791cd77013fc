package h2

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// frameConn is a net.Conn whose reads return data (the client's frames)
// and then EOF, and whose writes are discarded.
type frameConn struct{ r io.Reader }

func (c *frameConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *frameConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *frameConn) Close() error                     { return nil }
func (c *frameConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *frameConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *frameConn) SetDeadline(time.Time) error      { return nil }
func (c *frameConn) SetReadDeadline(time.Time) error  { return nil }
func (c *frameConn) SetWriteDeadline(time.Time) error { return nil }

// seedFrames returns a client's frames after the preface: SETTINGS, a GET,
// a POST with a body and trailers, a reset stream and a PING.
func seedFrames() []byte {
	var buf, hb bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	enc := hpack.NewEncoder(&hb)
	head := func(fields ...string) []byte {
		hb.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	}
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
		BlockFragment: head(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/direct?q=1", "content-type", "application/grpc")})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true,
		BlockFragment: head(":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/none", "trailer", "x-t")})
	fr.WriteData(3, false, []byte("hello"))
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, BlockFragment: head("x-t", "v")})
	fr.WriteRSTStream(5, http2.ErrCodeCancel)
	fr.WritePing(false, [8]byte{1})
	return buf.Bytes()
}

// FuzzServeFrames feeds arbitrary frames after the client preface to the
// HTTP/2 server, whose routes answer directly or find no route: it must
// not crash or hang, whatever the frames (run: go test -fuzz
// FuzzServeFrames ./sidecar/h2/).
func FuzzServeFrames(f *testing.F) {
	f.Add(seedFrames())
	f.Add([]byte{})
	table, err := route.Compile(routes(spec.Route{Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/direct", CaseSensitive: true},
		Direct: &spec.DirectResponse{Status: 200, Body: "ok"}}), func(string) *cluster.Cluster { return nil })
	if err != nil {
		f.Fatal(err)
	}
	cfg := &Config{Config: forward.Config{Listener: "fuzz", Routes: table, StreamIdle: time.Second, Stats: &forward.Stats{}}}
	srv := NewServer(cfg, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, frames []byte) {
		// The connection ends at the input's end (EOF) or at its first
		// connection error, without a linger (frameConn has no CloseWrite),
		// and ServeConn returns once every stream has ended.
		c := &frameConn{r: io.MultiReader(bytes.NewReader([]byte(preface)), bytes.NewReader(frames))}
		srv.ServeConn(context.Background(), c)
	})
}
