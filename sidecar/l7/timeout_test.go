package l7

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
)

// rawServer is a real upstream that runs handle on each connection. Its
// connections are closed and its handlers joined at cleanup.
func rawServer(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	return loopback.Start(t, func(_ context.Context, c net.Conn) { handle(c) })
}

// readHeadFrom reads one request head from c.
func readHeadFrom(br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}

// trickle writes s to c one byte every gap until done is closed or s is
// written.
func trickle(c net.Conn, s string, gap time.Duration, done <-chan struct{}) {
	for i := range len(s) {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		select {
		case <-done:
			return
		case <-time.After(gap):
		}
	}
}

// A client that sends its head or body a byte at a time, each byte within
// the stream idle timeout, gets 408 and a close when the request headers
// timeout or request timeout expires (issue 7, item 2).
func TestSlowRequestGets408(t *testing.T) {
	be := backend(t, "a")
	tests := []struct {
		name string
		cfg  func(*Config)
		req  string
	}{
		{"request_headers_timeout", func(c *Config) { c.RequestHeadersTimeout = 300 * time.Millisecond },
			"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"},
		{"request_timeout on the head", func(c *Config) { c.RequestTimeout = 300 * time.Millisecond },
			"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"},
		{"request_timeout on the body", func(c *Config) { c.RequestTimeout = 300 * time.Millisecond },
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + strings.Repeat("a", 200)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(be)}}, tc.cfg)
			c, br := dialProxy(t, p.addr)
			done := make(chan struct{})
			defer close(done)
			go trickle(c, tc.req, 20*time.Millisecond, done)
			start := time.Now()
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 408 {
				t.Errorf("status %d, want 408", resp.StatusCode)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("408 after %v, want about 300ms", d)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("read after 408: %v, want EOF", err)
			}
		})
	}
}

// A client that stops reading a large response is cut after the stream
// idle timeout: both its connection and the upstream's are closed, so the
// upstream connection is not pooled (issue 7, item 3).
func TestStalledClientIsCut(t *testing.T) {
	upClosed := make(chan error, 1)
	up := rawServer(t, func(c net.Conn) {
		if readHeadFrom(bufio.NewReader(c)) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				upClosed <- err
				return
			}
		}
	})
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {up}},
		func(c *Config) { c.StreamIdle = 300 * time.Millisecond })
	c, br := dialProxy(t, p.addr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := br.Peek(100); err != nil {
		t.Fatal(err)
	}
	// The client stops reading here.
	select {
	case <-upClosed:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection is still open 5s after the client stopped reading")
	}
	if n, _ := io.Copy(io.Discard, br); n >= 1<<30 {
		t.Errorf("client read the whole response (%d bytes), want the connection cut", n)
	}
}
