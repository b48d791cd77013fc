package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// fastCheck checks every 10ms; the cluster counts as carrying traffic.
func fastCheck() *spec.HealthCheck {
	return &spec.HealthCheck{Timeout: time.Second, Interval: 10 * time.Millisecond, NoTrafficInterval: 10 * time.Millisecond,
		UnhealthyInterval: 10 * time.Millisecond, UnhealthyEdgeInterval: 10 * time.Millisecond, HealthyEdgeInterval: 10 * time.Millisecond,
		InitialJitter: 5 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}
}

// clusterOf returns a cluster over addrs whose endpoints are health
// checked in rt, and whose Rebuild counts the rebuilds.
func clusterOf(rt *cluster.Runtime, rebuilds *atomic.Int64, addrs ...string) *cluster.Cluster {
	c := &cluster.Cluster{Name: "be", Runtime: rt, Stats: &cluster.Stats{}}
	reg := cluster.NewRegistry()
	for _, a := range addrs {
		st := reg.Get(a, nil)
		c.Endpoints = append(c.Endpoints, &cluster.Endpoint{State: st, Weight: 1, Active: rt.ActiveHealth(st)})
	}
	c.Rebuild = func() cluster.Picker { rebuilds.Add(1); return nil }
	return c
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t *testing.T, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln := loopback.Listen(t)
	loopback.Serve(t, ln, func(_ context.Context, c net.Conn) { serve(c) })
	return ln
}

func TestTCPCheckDetectsAndRecovers(t *testing.T) {
	pong := func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4)
		if _, err := c.Read(buf); err == nil && string(buf) == "PING" {
			c.Write([]byte("PONG"))
		}
	}
	good := listen(t, pong)
	mute := listen(t, func(c net.Conn) { c.Close() })
	cfg := fastCheck()
	cfg.TCP = &spec.TCPHealthCheck{Send: []byte("PING"), Receive: [][]byte{[]byte("PONG")}}
	rt := &cluster.Runtime{}
	var rebuilds atomic.Int64
	cl := clusterOf(rt, &rebuilds, good.Addr().String(), mute.Addr().String())
	c := New("be", cfg, rt, cl.Stats, discard())
	rt.InstallFunc(cl.Rebuild)
	rt.SetChecker(c)
	defer rt.SetChecker(nil)
	c.Update(cl)
	waitFor(t, "the answering endpoint to pass", func() bool { return !cl.Endpoints[0].Active.Failed() })
	waitFor(t, "checks of the mute endpoint", func() bool { return cl.Stats.HealthCheck.NetworkFailure.Load() >= 3 })
	if !cl.Endpoints[1].Active.Failed() || cl.Endpoints[1].Usable() {
		t.Errorf("the mute endpoint passes")
	}
	if rebuilds.Load() < 2 {
		t.Errorf("rebuilds = %d, want the install and one per change", rebuilds.Load())
	}
	good.Close()
	waitFor(t, "the closed endpoint to fail", func() bool { return cl.Endpoints[0].Active.Failed() })
}

func TestHTTPCheckStatuses(t *testing.T) {
	var status atomic.Int64
	status.Store(200)
	var gotHost, gotUA, gotHeader atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost.Store(r.Host)
		gotUA.Store(r.UserAgent())
		gotHeader.Store(r.Header.Get("x-hc") + " " + r.Method + " " + r.URL.Path)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	cfg := fastCheck()
	cfg.HealthyThreshold, cfg.UnhealthyThreshold = 2, 3
	cfg.HTTP = &spec.HTTPHealthCheck{Host: "hc.local", Path: "/healthz", Method: "GET",
		Headers: []spec.HeaderValue{{Name: "x-hc", Value: "1"}}, Expected: []spec.StatusRange{{Start: 200, End: 201}}, Retriable: []spec.StatusRange{{Start: 503, End: 504}}}
	rt := &cluster.Runtime{}
	var rebuilds atomic.Int64
	cl := clusterOf(rt, &rebuilds, srv.Listener.Addr().String())
	c := New("be", cfg, rt, cl.Stats, discard())
	rt.SetChecker(c)
	defer rt.SetChecker(nil)
	c.Update(cl)
	h := cl.Endpoints[0].Active
	waitFor(t, "a pass", func() bool { return !h.Failed() })
	if gotHost.Load() != "hc.local" || gotUA.Load() != "Envoy/HC" || gotHeader.Load() != "1 GET /healthz" {
		t.Errorf("request: host %v, user agent %v, header/method/path %v", gotHost.Load(), gotUA.Load(), gotHeader.Load())
	}
	status.Store(503) // retriable: fails after 3 in a row
	base := cl.Stats.HealthCheck.Failure.Load()
	waitFor(t, "failing on retriable statuses", func() bool { return h.Failed() })
	if n := cl.Stats.HealthCheck.Failure.Load() - base; n < 3 {
		t.Errorf("failed after %d retriable statuses, want 3", n)
	}
	status.Store(200)
	waitFor(t, "passing again", func() bool { return !h.Failed() })
	status.Store(500) // not retriable: fails at once
	base = cl.Stats.HealthCheck.Failure.Load()
	waitFor(t, "failing on 500", func() bool { return h.Failed() })
	if n := cl.Stats.HealthCheck.Failure.Load() - base; n != 1 {
		t.Errorf("failed after %d statuses 500, want 1", n)
	}
}

// TestUpdateKeepsAndStops: an update with the same endpoints keeps their
// checks and verdicts, a removed endpoint's check stops (and is joined),
// an added one starts failing until checked.
func TestUpdateKeepsAndStops(t *testing.T) {
	a := listen(t, func(c net.Conn) { c.Close() })
	b := listen(t, func(c net.Conn) { c.Close() })
	cfg := fastCheck()
	cfg.TCP = &spec.TCPHealthCheck{}
	rt := &cluster.Runtime{}
	var rebuilds atomic.Int64
	cl := clusterOf(rt, &rebuilds, a.Addr().String(), b.Addr().String())
	c := New("be", cfg, rt, cl.Stats, discard())
	rt.SetChecker(c)
	defer rt.SetChecker(nil)
	c.Update(cl)
	waitFor(t, "both to pass", func() bool { return !cl.Endpoints[0].Active.Failed() && !cl.Endpoints[1].Active.Failed() })
	if !c.Same(fastCheckTCP()) {
		t.Errorf("Same reports a different configuration for an equal one")
	}
	next := &cluster.Cluster{Name: "be", Runtime: rt, Stats: cl.Stats, Endpoints: cl.Endpoints[:1], Rebuild: cl.Rebuild}
	c.Update(next)
	if n := c.Checking(); n != 1 {
		t.Fatalf("checking %d endpoints after removing one, want 1", n)
	}
	if cl.Endpoints[0].Active.Failed() {
		t.Errorf("the kept endpoint's verdict was reset")
	}
	if cl.Endpoints[0].Active != rt.ActiveHealth(cl.Endpoints[0].State) {
		t.Errorf("the runtime lost the kept endpoint's health")
	}
}

func fastCheckTCP() *spec.HealthCheck {
	cfg := fastCheck()
	cfg.TCP = &spec.TCPHealthCheck{}
	return cfg
}
