package health

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestCheckSchedule follows one endpoint's checks in fake time: the edge
// intervals after each verdict change, the unhealthy interval while
// failing, and the thresholds. The server lives outside the bubble, so
// only the checker's timers are fake.
func TestCheckSchedule(t *testing.T) {
	var status atomic.Int64
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	synctest.Test(t, func(t *testing.T) {
		cfg := &spec.HealthCheck{Timeout: time.Second, Interval: time.Second, NoTrafficInterval: time.Minute,
			UnhealthyInterval: 3 * time.Second, UnhealthyEdgeInterval: 5 * time.Second, HealthyEdgeInterval: 2 * time.Second,
			HealthyThreshold: 2, UnhealthyThreshold: 2,
			HTTP: &spec.HTTPHealthCheck{Host: "be", Path: "/", Method: "GET",
				Expected: []spec.StatusRange{{Start: 200, End: 201}}, Retriable: []spec.StatusRange{{Start: 503, End: 504}}}}
		rt := &cluster.Runtime{}
		stats := &cluster.Stats{}
		stats.CxTotal.Add(1) // the cluster has carried traffic
		st := &cluster.State{Addr: srv.Listener.Addr().String()}
		ep := &cluster.Endpoint{State: st, Weight: 1, Active: rt.ActiveHealth(st)}
		c := New("be", cfg, rt, stats, discard())
		c.Update(&cluster.Cluster{Name: "be", Endpoints: []*cluster.Endpoint{ep}})
		defer c.Close()
		start := time.Now()
		// at, from the start: expect the verdict and the attempts so far.
		at := func(d time.Duration, failed bool, attempts uint64) {
			t.Helper()
			time.Sleep(d - time.Since(start))
			synctest.Wait()
			if got, n := ep.Active.Failed(), stats.HealthCheck.Attempt.Load(); got != failed || n != attempts {
				t.Fatalf("at %v: failed %v after %d checks, want %v after %d", d, got, n, failed, attempts)
			}
		}
		ms := time.Millisecond
		at(500*ms, false, 1)  // t=0 passes: healthy at once; next after the healthy edge, 2s
		at(2500*ms, false, 2) // t=2 passes; next after the interval, 1s
		status.Store(503)     // retriable
		at(3500*ms, false, 3) // t=3: one retriable status, below the threshold
		at(4500*ms, true, 4)  // t=4: two: failing; next after the unhealthy edge, 5s
		status.Store(200)
		at(8500*ms, true, 4)
		at(9500*ms, true, 5)   // t=9 passes, one of two; next after the unhealthy interval, 3s
		at(11500*ms, true, 5)  //
		at(12500*ms, false, 6) // t=12: two passes: healthy
	})
}

// TestInitialJitterSpreadsChecks: 20 endpoints' first checks are spread
// over the initial jitter, not made at once.
func TestInitialJitterSpreadsChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	synctest.Test(t, func(t *testing.T) {
		cfg := &spec.HealthCheck{Timeout: time.Second, Interval: time.Minute, NoTrafficInterval: time.Minute,
			UnhealthyInterval: time.Minute, UnhealthyEdgeInterval: time.Minute, HealthyEdgeInterval: time.Minute,
			InitialJitter: 10 * time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1,
			HTTP: &spec.HTTPHealthCheck{Host: "be", Path: "/", Method: "GET", Expected: []spec.StatusRange{{Start: 200, End: 201}}}}
		rt := &cluster.Runtime{}
		stats := &cluster.Stats{}
		cl := &cluster.Cluster{Name: "be"}
		for range 20 {
			st := &cluster.State{Addr: srv.Listener.Addr().String()}
			cl.Endpoints = append(cl.Endpoints, &cluster.Endpoint{State: st, Weight: 1, Active: rt.ActiveHealth(st)})
		}
		c := New("be", cfg, rt, stats, discard())
		c.Update(cl)
		defer c.Close()
		attempts := func(d time.Duration) uint64 {
			time.Sleep(d)
			synctest.Wait()
			return stats.HealthCheck.Attempt.Load()
		}
		if n := attempts(100 * time.Millisecond); n > 5 {
			t.Errorf("%d of 20 first checks in the first 100ms of a 10s jitter", n)
		}
		if n := attempts(4900 * time.Millisecond); n == 0 || n == 20 {
			t.Errorf("%d of 20 first checks in the first 5s of a 10s jitter, want some", n)
		}
		if n := attempts(5 * time.Second); n != 20 {
			t.Errorf("%d of 20 first checks after the 10s jitter, want 20", n)
		}
	})
}
