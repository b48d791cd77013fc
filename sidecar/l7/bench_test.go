package l7

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// rawUpstream answers every bodyless request on each connection with resp,
// reading with a fixed buffer so it allocates nothing per request.
func rawUpstream(tb testing.TB, resp []byte) string {
	tb.Helper()
	return loopback.Start(tb, func(_ context.Context, c net.Conn) { serveRaw(c, resp) })
}

func serveRaw(c net.Conn, resp []byte) {
	defer c.Close()
	buf := make([]byte, 4096)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		for {
			i := bytes.Index(buf[:n], crlfcrlf)
			if i < 0 {
				break
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
			n = copy(buf, buf[i+4:n])
		}
	}
}

// BenchmarkRequest measures one whole keep-alive request through the
// proxy over loopback sockets: client, proxy and upstream.
func BenchmarkRequest(b *testing.B) { benchRequest(b) }

// BenchmarkRequestAccessLog is BenchmarkRequest with a file access log in
// Envoy's default format: the cost of a logged request on the request
// path (the sink's goroutine writes the file).
func BenchmarkRequestAccessLog(b *testing.B) {
	sinks := accesslog.NewSinks(slog.New(slog.DiscardHandler), nil)
	defer sinks.Close()
	set, err := accesslog.Compile([]spec.AccessLog{{Path: filepath.Join(b.TempDir(), "access.log")}}, sinks)
	if err != nil {
		b.Fatal(err)
	}
	benchRequest(b, func(c *Config) { c.AccessLog, c.Describe = set, true })
}

func benchRequest(b *testing.B, opts ...func(*Config)) {
	benchRoute(b, toCluster("/", "web"), nil, opts...)
}

// benchRoute is benchRequest through route rt (to cluster web), whose
// first response must contain want.
func benchRoute(b *testing.B, rt spec.Route, want []byte, opts ...func(*Config)) {
	up := rawUpstream(b, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"))
	p := startProxy(b, prefixRoutes(rt), map[string][]string{"web": {up}}, opts...)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /api/v1/items?id=42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: wrk/4.2\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	n := firstResponse(b, c, req, buf)
	if !bytes.Contains(buf[:n], want) {
		b.Fatalf("first response %q lacks %q", buf[:n], want)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
}

// firstResponse sends req and returns the length of the response, whose
// body is "hello".
func firstResponse(b *testing.B, c net.Conn, req, buf []byte) int {
	if _, err := c.Write(req); err != nil {
		b.Fatal(err)
	}
	n := 0
	for !bytes.HasSuffix(buf[:n], []byte("\r\n\r\nhello")) {
		m, err := c.Read(buf[n:])
		if err != nil {
			b.Fatal(err)
		}
		n += m
	}
	return n
}
