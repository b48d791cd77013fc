package sidecar

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// The HCM's request_headers_timeout, request_timeout and
// http_protocol_options reach the HTTP listener and take effect (issue 7,
// items 2 and 8).
func TestHCMRequestOptions(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "host="+r.Host)
	}))
	defer be.Close()
	tests := []struct {
		name string
		edit func(*config.HTTPManager)
		req  string // sent, after which the client waits
		want string // the status line's prefix, and for 200 the body
	}{
		{"request_headers_timeout", func(h *config.HTTPManager) { h.RequestHeadersTimeout = 200 * time.Millisecond },
			"GET / HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 408 "},
		{"request_timeout", func(h *config.HTTPManager) { h.RequestTimeout = 200 * time.Millisecond },
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab", "HTTP/1.1 408 "},
		{"http/1.0 refused", nil, "GET / HTTP/1.0\r\nHost: x\r\n\r\n", "HTTP/1.1 426 "},
		{"http/1.0 default host", func(h *config.HTTPManager) { h.AcceptHTTP10, h.DefaultHostHTTP10 = true, "legacy.local" },
			"GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 200 host=legacy.local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			url := serveHTTP(t, s, staticCluster("be", strings.TrimPrefix(be.URL, "http://")), func(l *config.Listener) {
				if tc.edit != nil {
					tc.edit(l.FilterChains[0].HTTP)
				}
			})
			c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.req)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("reading response: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := "HTTP/1.1 " + resp.Status
			if resp.StatusCode == 200 {
				got = "HTTP/1.1 200 " + string(b)
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
