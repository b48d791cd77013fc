package sidecar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// gated is a backend that holds requests to /slow until release is closed
// and answers the others at once with name. hits counts requests.
type gated struct {
	addr    string
	hits    atomic.Int64
	release chan struct{}
}

func gatedBackend(t *testing.T, name string) *gated {
	t.Helper()
	g := &gated{release: make(chan struct{})}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		if r.URL.Path == "/slow" {
			<-g.release
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(func() { g.open(); s.Close() })
	g.addr = strings.TrimPrefix(s.URL, "http://")
	return g
}

func (g *gated) open() {
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

// statusBackend answers every request with code and counts them.
func statusBackend(t *testing.T, code int, hits *atomic.Int64) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// deadAddr returns a loopback address that refuses connections.
func deadAddr(t *testing.T) string { return freeAddr(t) }

// serveHTTP applies an HTTP listener routing to cl (whose route action
// is changed by edit, if not nil) and returns the listener address.
func serveHTTP(t *testing.T, s *Sidecar, cl config.Cluster, edit func(*config.Listener)) string {
	t.Helper()
	addr := freeAddr(t)
	l := httpListener("web", addr, cl.Name)
	if edit != nil {
		edit(&l)
	}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{l}, Clusters: []config.Cluster{cl}}); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

func action(l *config.Listener) *config.RouteAction {
	return l.FilterChains[0].HTTP.Routes.VirtualHosts[0].Routes[0].Action
}

// do sends one request and returns the status, the body and the
// x-envoy-overloaded header.
func do(t *testing.T, c *http.Client, url string, hdr ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("X-Envoy-Overloaded")
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
}

// inFlight starts GET url/slow on its own connection and waits until the
// backend holds it.
func inFlight(t *testing.T, url string, g *gated, hitsBefore int64) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		c := newClient()
		defer c.CloseIdleConnections()
		resp, err := c.Get(url + "/slow")
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitFor(t, func() bool { return g.hits.Load() > hitsBefore })
	return done
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// A failed connect is redispatched to an endpoint not yet tried. With
// least_request, a dead endpoint (never any requests in flight) used to
// win the pick again and again, so some requests got 502.
func TestRedispatchAvoidsFailedEndpoint(t *testing.T) {
	s := newSidecar(t)
	cl := staticCluster("be", deadAddr(t), named(t, "live"))
	cl.LBPolicy = "least_request"
	url := serveHTTP(t, s, cl, nil)
	c := newClient()
	defer c.CloseIdleConnections()
	for i := range 40 {
		c.CloseIdleConnections()
		if code, body, _ := do(t, c, url); code != 200 || body != "live" {
			t.Fatalf("request %d: %d %q, want 200 from the live endpoint", i, code, body)
		}
	}
}

// With retry_host_predicate previous_hosts, a retry goes to an endpoint
// the request has not tried; without it, it may go back to the one that
// just failed.
func TestRetryPreviousHosts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		previous bool
		want503  bool
	}{
		{"previous_hosts", true, false},
		{"no predicate", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			var failing atomic.Int64
			cl := staticCluster("be", statusBackend(t, 503, &failing), named(t, "ok"))
			cl.LBPolicy = "random"
			url := serveHTTP(t, s, cl, func(l *config.Listener) {
				action(l).Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 1,
					PreviousHosts: tc.previous, HostSelectionAttempts: 20}
			})
			c := newClient()
			defer c.CloseIdleConnections()
			got503 := 0
			for range 40 {
				if code, _, _ := do(t, c, url); code == 503 {
					got503++
				}
			}
			if (got503 > 0) != tc.want503 {
				t.Errorf("%d of 40 requests got 503 (failing endpoint hit %d times), want503=%v", got503, failing.Load(), tc.want503)
			}
		})
	}
}

// The route timeout is a deadline over all tries: no try starts after it,
// and the client gets 504 at it.
func TestRouteTimeoutSpansTries(t *testing.T) {
	s := newSidecar(t)
	g := gatedBackend(t, "slow")
	url := serveHTTP(t, s, staticCluster("be", g.addr), func(l *config.Listener) {
		a := action(l)
		a.Timeout = 300 * time.Millisecond
		a.Retry = &config.RetryPolicy{On: []string{"5xx", "reset"}, NumRetries: 5, PerTry: 200 * time.Millisecond}
	})
	c := newClient()
	defer c.CloseIdleConnections()
	start := time.Now()
	code, _, _ := do(t, c, url+"/slow")
	took := time.Since(start)
	// The upper bound only catches a hang: timings belong in benchmarks.
	if code != 504 || took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("%d after %v, want 504 at the 300ms deadline", code, took)
	}
	// Tries at 0 and 200ms; none after the deadline at 300ms. On a loaded
	// machine the second may not reach the backend before the deadline.
	if n := g.hits.Load(); n < 1 || n > 2 {
		t.Errorf("backend saw %d tries, want 1 or 2 (none started after the deadline)", n)
	}
}
