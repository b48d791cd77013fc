package l7

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// flaky answers its first failures requests with status, then 200.
func flaky(t *testing.T, failures int64, status int, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failures {
			if delay > 0 {
				time.Sleep(delay)
			}
			w.WriteHeader(status)
			io.WriteString(w, "failed")
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func retryRoute(policy *spec.RetryPolicy) spec.Route {
	r := toCluster("/", "web")
	r.Action.Retry = policy
	return r
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		policy   *spec.RetryPolicy
		failures int64
		status   int
		delay    time.Duration
		method   string
		want     int
		attempts int64
	}{
		{"no policy relays the 503", nil, 1, 503, 0, "GET", 503, 1},
		{"5xx retried", &spec.RetryPolicy{On: []string{"5xx"}, NumRetries: 2}, 2, 503, 0, "GET", 200, 3},
		{"budget spent", &spec.RetryPolicy{On: []string{"5xx"}, NumRetries: 1}, 2, 500, 0, "GET", 500, 2},
		{"gateway-error ignores 500", &spec.RetryPolicy{On: []string{"gateway-error"}, NumRetries: 2}, 1, 500, 0, "GET", 500, 1},
		{"retriable-4xx", &spec.RetryPolicy{On: []string{"retriable-4xx"}, NumRetries: 1}, 1, 409, 0, "GET", 200, 2},
		{"per-try timeout", &spec.RetryPolicy{On: []string{"5xx"}, NumRetries: 1, PerTry: 50 * time.Millisecond}, 1, 200, 300 * time.Millisecond, "GET", 200, 2},
		{"body not retried", &spec.RetryPolicy{On: []string{"5xx"}, NumRetries: 2}, 1, 503, 0, "POST", 503, 1},
		{"retriable-status-codes", &spec.RetryPolicy{On: []string{"connect-failure", "retriable-status-codes"}, NumRetries: 2,
			RetriableStatusCodes: []int{429, 503}}, 2, 429, 0, "GET", 200, 3},
		{"retriable-status-codes ignores others", &spec.RetryPolicy{On: []string{"retriable-status-codes"}, NumRetries: 2,
			RetriableStatusCodes: []int{503}}, 1, 500, 0, "GET", 500, 1},
		{"status codes need the condition", &spec.RetryPolicy{On: []string{"connect-failure"}, NumRetries: 2,
			RetriableStatusCodes: []int{503}}, 1, 503, 0, "GET", 503, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be, n := flaky(t, tc.failures, tc.status, tc.delay)
			p := startProxy(t, prefixRoutes(retryRoute(tc.policy)), map[string][]string{"web": {hostOf(be)}})
			c := newClient()
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest(tc.method, "http://"+p.addr+"/", nil)
			if tc.method == "POST" {
				req, _ = http.NewRequest(tc.method, "http://"+p.addr+"/", strings.NewReader("body"))
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || n.Load() != tc.attempts {
				t.Errorf("status %d after %d attempts, want %d after %d", resp.StatusCode, n.Load(), tc.want, tc.attempts)
			}
		})
	}
}

func TestMalformedChunkedBodyIs400(t *testing.T) {
	be := backend(t, "a")
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(be)}})
	got := rawExchange(t, p.addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("response = %q, want 400", firstLine(got))
	}
}

// A pooled upstream connection the server has closed while idle is
// retried on a new connection, invisibly to the client.
func TestStalePooledConnectionRetried(t *testing.T) {
	var served atomic.Int64
	up := loopback.Start(t, func(_ context.Context, c net.Conn) {
		// Answer one request as keep-alive, then close while idle.
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		served.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {up}})
	c := newClient()
	defer c.CloseIdleConnections()
	for i := range 3 {
		// Let the upstream's close reach the pooled connection first.
		waitUntil(t, func() bool { return served.Load() == int64(i) })
		if code, body := get(t, c, "http://"+p.addr+"/"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
