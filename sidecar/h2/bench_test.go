package h2

import (
	"bytes"
	"context"
	"net"
	"testing"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/internal/loopback"
)

// rawUpstream answers every bodyless HTTP/1.1 request with resp.
func rawUpstream(tb testing.TB, resp []byte) string {
	tb.Helper()
	return loopback.Start(tb, func(_ context.Context, c net.Conn) {
		buf := make([]byte, 4096)
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += m
			for {
				i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				if _, err := c.Write(resp); err != nil {
					return
				}
				n = copy(buf, buf[i+4:n])
			}
		}
	})
}

// BenchmarkRequest measures one whole HTTP/2 request through the server
// over loopback sockets, translated to HTTP/1.1 to a pooled upstream
// connection: client frames, the server's connection loop and stream,
// the forwarder and the HTTP/1 upstream codec (allocations include the
// client's few).
func BenchmarkRequest(b *testing.B) {
	up := rawUpstream(b, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"))
	p := startProxy(b, routes(toCluster("/", "web")), map[string][]string{"web": {up}})
	rc, _ := dialRaw(b, p.addr)
	rc.fr.WriteWindowUpdate(0, 1<<30) // the responses never exhaust the connection window
	// The client neither decodes response heads nor allocates frames, so
	// that allocs/op are mostly the server's.
	rc.fr.ReadMetaHeaders = nil
	rc.fr.SetReuseFrames()
	id := uint32(1)
	roundTrip := func() {
		rc.request(id, "GET", "/api/v1/items?id=42", true, "user-agent", "h2load", "accept", "*/*")
		for {
			f, err := rc.fr.ReadFrame()
			if err != nil {
				b.Fatal(err)
			}
			if f.Header().StreamID == id && f.Header().Flags.Has(http2.FlagDataEndStream) {
				break
			}
			if wu, ok := f.(*http2.WindowUpdateFrame); ok && wu.StreamID == 0 {
				continue
			}
		}
		id += 2
	}
	roundTrip()
	b.ReportAllocs()
	for b.Loop() {
		roundTrip()
	}
}
