package l7

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// upload sends a POST with a body of size bytes on a new connection, from
// a goroutine, and returns the response status. The writer goroutine is
// joined before upload returns.
func upload(t *testing.T, addr string, size int) int {
	t.Helper()
	c, br := dialProxy(t, addr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
		chunk := []byte(strings.Repeat("u", 64<<10))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := c.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
				return
			}
		}
	}()
	defer func() { c.Close(); <-done }()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An upstream that fails while a request body is sent to it is not the
// client's fault: its early answer is relayed, or the client gets 502 or
// 504, counted as an upstream failure (issue 7, item 6).
func TestUpstreamFailureDuringUpload(t *testing.T) {
	stalled := make(chan struct{})
	tests := []struct {
		name   string
		handle func(c net.Conn)
		want   int
	}{
		{"early 413", func(c net.Conn) {
			readHeadFrom(bufio.NewReader(c))
			io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}, 413},
		{"reset without an answer", func(c net.Conn) {
			readHeadFrom(bufio.NewReader(c))
			c.(*net.TCPConn).SetLinger(0)
		}, 502},
		{"stops reading", func(c net.Conn) {
			readHeadFrom(bufio.NewReader(c))
			c.SetDeadline(time.Now().Add(5 * time.Second))
			select { // reads nothing more until the test ends
			case <-stalled:
			case <-time.After(5 * time.Second):
			}
		}, 504},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := rawServer(t, tc.handle)
			t.Cleanup(func() {
				select {
				case stalled <- struct{}{}:
				default:
				}
			})
			p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {up}},
				func(c *Config) { c.StreamIdle = 300 * time.Millisecond })
			if got := upload(t, p.addr, 64<<20); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			st := &p.clusters["web"].Stats.StatusCounts
			counter := &st.Rq4xx
			if tc.want >= 500 {
				counter = &st.Rq5xx
			}
			waitUntil(t, func() bool { return counter.Load() == 1 })
		})
	}
}
