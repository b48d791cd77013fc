package sidecar

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/config"
)

// stats returns the shared statistics of the cluster named name.
func stats(s *Sidecar, name string) *cluster.Stats { return s.Snapshot().Clusters[name].Stats }

// Each HTTP circuit breaker, with one request held in flight: the next
// request overflows with Envoy's 503 and x-envoy-overloaded, or waits as
// a pending request, and the overflow is counted.
func TestHTTPCircuitBreakers(t *testing.T) {
	tests := []struct {
		name             string
		limits           func(*config.Cluster)
		wantCode         int
		wantOverloaded   string
		wantCx, wantPend uint64 // upstream_cx_overflow, upstream_rq_pending_overflow
		pending          bool   // the second request waits for the first
	}{
		{"max_requests", func(c *config.Cluster) { c.MaxRequests = 1 }, 503, "true", 0, 1, false},
		{"max_connections, no pending allowed", func(c *config.Cluster) { c.MaxConnections, c.MaxPendingRequests = 1, -1 }, 503, "true", 1, 1, false},
		{"max_connections, pending waits", func(c *config.Cluster) { c.MaxConnections, c.MaxPendingRequests = 1, 1 }, 200, "", 1, 0, true},
		{"defaults", func(c *config.Cluster) {}, 200, "", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			g := gatedBackend(t, "be")
			cl := staticCluster("be", g.addr)
			cl.MaxConnections, cl.MaxPendingRequests, cl.MaxRequests, cl.MaxRetries = 1024, 1024, 1024, 3
			tc.limits(&cl)
			url := serveHTTP(t, s, cl, nil)
			held := inFlight(t, url, g, 0)
			c := newClient()
			defer c.CloseIdleConnections()
			got := make(chan [2]string, 1)
			go func() {
				code, _, ov := doAsync(c, url)
				got <- [2]string{code, ov}
			}()
			if tc.pending {
				// The second request waits for the first one's connection.
				waitFor(t, func() bool { return stats(s, "be").RqPending.Load() == 1 })
				g.open()
			}
			r := <-got
			g.open()
			if r[0] != http.StatusText(tc.wantCode) || r[1] != tc.wantOverloaded {
				t.Errorf("second request: %s x-envoy-overloaded=%q, want %d %q", r[0], r[1], tc.wantCode, tc.wantOverloaded)
			}
			if code := <-held; code != 200 {
				t.Errorf("first request: %d, want 200", code)
			}
			st := stats(s, "be")
			if st.CxOverflow.Load() != tc.wantCx || st.OverflowRq.Load() != tc.wantPend {
				t.Errorf("upstream_cx_overflow %d, upstream_rq_pending_overflow %d; want %d, %d",
					st.CxOverflow.Load(), st.OverflowRq.Load(), tc.wantCx, tc.wantPend)
			}
		})
	}
}

// doAsync is do for a goroutine: the status text, the body, the header.
func doAsync(c *http.Client, url string) (string, string, string) {
	resp, err := c.Get(url)
	if err != nil {
		return err.Error(), "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return http.StatusText(resp.StatusCode), string(b), resp.Header.Get("X-Envoy-Overloaded")
}

// flakyBackend answers its first request 503 and the others 200, counting
// them in n, and returns its address.
func flakyBackend(t *testing.T, n *atomic.Int64) string {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(503)
		}
	}))
	t.Cleanup(be.Close)
	return strings.TrimPrefix(be.URL, "http://")
}

// max_retries: with the breaker at 0 retries in flight, a 503 the policy
// would retry is relayed, and counted in upstream_rq_retry_overflow.
func TestMaxRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxRetries int
		want       int
		overflow   uint64
	}{
		{"retry allowed", 3, 200, 0},
		{"max_retries 0", -1, 503, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			var n atomic.Int64
			cl := staticCluster("be", flakyBackend(t, &n))
			cl.MaxRetries = tc.maxRetries
			url := serveHTTP(t, s, cl, func(l *config.Listener) {
				action(l).Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 1}
			})
			c := newClient()
			defer c.CloseIdleConnections()
			code, _, ov := do(t, c, url)
			if code != tc.want || ov != "" {
				t.Errorf("%d x-envoy-overloaded=%q, want %d from the backend", code, ov, tc.want)
			}
			// Counted once the response has been relayed: poll for it.
			st := stats(s, "be")
			waitFor(t, func() bool { return st.RetryOverflow.Load() >= tc.overflow })
			if got := st.RetryOverflow.Load(); got != tc.overflow {
				t.Errorf("upstream_rq_retry_overflow = %d, want %d", got, tc.overflow)
			}
		})
	}
}

// max_connections on a TCP proxy: a connection over the limit is closed
// at once and counted in upstream_cx_overflow.
func TestTCPMaxConnections(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	cl := staticCluster("echo", echoServer(t, "echo"))
	cl.MaxConnections = 1
	if err := s.Apply(&config.Set{Listeners: []config.Listener{tcpListener("tcp", addr, "echo")}, Clusters: []config.Cluster{cl}}); err != nil {
		t.Fatal(err)
	}
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if line, _ := bufio.NewReader(first).ReadString('\n'); line != "echo\n" {
		t.Fatalf("first connection: %q, want the greeting", line)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(make([]byte, 16)); err != io.EOF {
		t.Errorf("second connection: read %d bytes, %v; want it closed (EOF)", n, err)
	}
	if got := stats(s, "echo").CxOverflow.Load(); got != 1 {
		t.Errorf("upstream_cx_overflow = %d, want 1", got)
	}
}

// use_remote_address, as Envoy: true appends the peer to X-Forwarded-For;
// false passes the header on as the client sent it.
func TestUseRemoteAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remote bool
		in     string
		want   string
	}{
		{"true, no header", true, "", "127.0.0.1"},
		{"true, appended", true, "10.0.0.1", "10.0.0.1, 127.0.0.1"},
		{"false, no header", false, "", ""},
		{"false, kept", false, "10.0.0.1", "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, strings.Join(r.Header.Values("X-Forwarded-For"), "|"))
			}))
			defer be.Close()
			url := serveHTTP(t, s, staticCluster("be", strings.TrimPrefix(be.URL, "http://")), func(l *config.Listener) {
				l.FilterChains[0].HTTP.UseRemoteAddress = tc.remote
			})
			c := newClient()
			defer c.CloseIdleConnections()
			var hdr []string
			if tc.in != "" {
				hdr = []string{"X-Forwarded-For", tc.in}
			}
			if _, got, _ := do(t, c, url, hdr...); got != tc.want {
				t.Errorf("upstream X-Forwarded-For = %q, want %q", got, tc.want)
			}
		})
	}
}

// A request waiting for a connection (max_connections reached) waits no
// longer than the route timeout, and gets 504 then, as in Envoy.
func TestPendingRequestRouteTimeout(t *testing.T) {
	s := newSidecar(t)
	g := gatedBackend(t, "be")
	cl := staticCluster("be", g.addr)
	cl.MaxConnections, cl.MaxPendingRequests = 1, 1
	url := serveHTTP(t, s, cl, func(l *config.Listener) {
		vh := &l.FilterChains[0].HTTP.Routes.VirtualHosts[0]
		vh.Routes[0].Action.Timeout = 200 * time.Millisecond
		slow := vh.Routes[0] // without a timeout, it holds the connection
		a := *slow.Action
		slow.Action, a.Timeout, slow.Match.Path = &a, 0, "/slow"
		vh.Routes = append([]config.Route{slow}, vh.Routes...)
	})
	held := inFlight(t, url, g, 0)
	c := newClient()
	defer c.CloseIdleConnections()
	start := time.Now()
	code, _, _ := do(t, c, url)
	if took := time.Since(start); code != 504 || took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("pending request: %d after %v, want 504 at the 200ms route timeout", code, took)
	}
	g.open()
	<-held
}
