package sidecar

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// countingBackend answers every request with code (or holds it until the
// test ends when hang), counting requests.
func countingBackend(t *testing.T, code int, hang bool) (string, *atomic.Int64) {
	var n atomic.Int64
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if hang {
			<-release
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(func() { close(release); s.Close() })
	return strings.TrimPrefix(s.URL, "http://"), &n
}

// waitOutlier polls cond for up to 5s.
func waitOutlier(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestOutlierEjects5xx: through real sockets, a backend answering 503 is
// ejected after consecutive_5xx, gets no request while ejected, and is
// back in traffic after base_ejection_time.
func TestOutlierEjects5xx(t *testing.T) {
	s := newSidecar(t)
	good, goodN := countingBackend(t, 200, false)
	bad, badN := countingBackend(t, 503, false)
	web := freeAddr(t)
	c := staticCluster("od", good, bad)
	c.Outlier = &spec.OutlierDetection{Consecutive5xx: 3, EnforcingConsecutive5xx: 100,
		ConsecutiveGatewayFailure: 5, ConsecutiveLocalOriginFailure: 5, EnforcingConsecutiveLocalOriginFailure: 100,
		Interval: 20 * time.Millisecond, BaseEjectionTime: 300 * time.Millisecond, MaxEjectionTime: time.Second,
		MaxEjectionPercent: 50}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{httpListener("web", web, "od")}, Clusters: []config.Cluster{c}}); err != nil {
		t.Fatal(err)
	}
	cl := newClient()
	defer cl.CloseIdleConnections()
	for badN.Load() < 3 {
		do(t, cl, "http://"+web+"/")
	}
	snap := s.Snapshot().Clusters["od"]
	ej := snap.Endpoints[1].Outlier
	// The detector marks the ejection, then installs a picker without the
	// endpoint: wait for both.
	waitOutlier(t, "the 503 backend to be ejected", func() bool {
		for range 4 {
			if e := snap.Runtime.Picker().Pick(0); e == nil || e.State == snap.Endpoints[1].State {
				return false
			}
		}
		return ej.Ejected()
	})
	ejectedAt := time.Now()
	before, goodBefore := badN.Load(), goodN.Load()
	for range 20 {
		if code, _, _ := do(t, cl, "http://"+web+"/"); code != 200 {
			t.Fatalf("status %d while the 503 backend is ejected", code)
		}
	}
	if ej.Ejected() {
		if got := badN.Load() - before; got != 0 {
			t.Errorf("ejected backend got %d requests", got)
		}
		if got := goodN.Load() - goodBefore; got != 20 {
			t.Errorf("good backend got %d of 20 requests", got)
		}
	}
	waitOutlier(t, "the 503 backend to return", func() bool { return !ej.Ejected() })
	if d := time.Since(ejectedAt); d < 250*time.Millisecond {
		t.Errorf("returned after %v, want about base_ejection_time 300ms", d)
	}
	before = badN.Load()
	for range 4 {
		do(t, cl, "http://"+web+"/")
	}
	if badN.Load() == before {
		t.Error("returned backend gets no traffic")
	}
	st := &snap.Stats.Outlier
	if st.Enforced5xx.Load() < 1 || st.EnforcedTotal.Load() < 1 {
		t.Errorf("ejections_enforced_consecutive_5xx = %d, total %d, want >= 1", st.Enforced5xx.Load(), st.EnforcedTotal.Load())
	}
}

// TestOutlierEjectsHungBackend: a backend that accepts and never answers
// times out its attempts (per-try timeout, retried on another host, so no
// client request fails); consecutive_gateway_failure (enforced) ejects it,
// after which every request is answered by the other backend at once.
func TestOutlierEjectsHungBackend(t *testing.T) {
	s := newSidecar(t)
	good, _ := countingBackend(t, 200, false)
	hung, hungN := countingBackend(t, 0, true)
	web := freeAddr(t)
	c := staticCluster("od-hung", good, hung)
	c.Outlier = &spec.OutlierDetection{Consecutive5xx: 100, EnforcingConsecutive5xx: 100,
		ConsecutiveGatewayFailure: 2, EnforcingConsecutiveGatewayFailure: 100, ConsecutiveLocalOriginFailure: 5,
		Interval: time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionTime: time.Minute, MaxEjectionPercent: 50}
	l := httpListener("web", web, "od-hung")
	action(&l).Timeout = 2 * time.Second
	action(&l).Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 2, PerTry: 100 * time.Millisecond, PreviousHosts: true}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{l}, Clusters: []config.Cluster{c}}); err != nil {
		t.Fatal(err)
	}
	cl := newClient()
	defer cl.CloseIdleConnections()
	for hungN.Load() < 2 {
		if code, _, _ := do(t, cl, "http://"+web+"/"); code != 200 {
			t.Fatalf("status %d before ejection, want 200 (retried on the other host)", code)
		}
	}
	snap := s.Snapshot().Clusters["od-hung"]
	waitOutlier(t, "the hung backend to be ejected", snap.Endpoints[1].Outlier.Ejected)
	start := time.Now()
	for range 20 {
		if code, _, _ := do(t, cl, "http://"+web+"/"); code != 200 {
			t.Fatalf("status %d after the hung backend was ejected", code)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("20 requests took %v after ejection", d)
	}
	if n := snap.Stats.Outlier.EnforcedGateway.Load(); n != 1 {
		t.Errorf("ejections_enforced_consecutive_gateway_failure = %d, want 1", n)
	}
}

// TestOutlierEjectsDeadTCPEndpoint: on a TCP proxy, connect failures to a
// dead endpoint count as consecutive 5xx; once it is ejected, connections
// stop trying it (upstream_cx_connect_fail no longer grows).
func TestOutlierEjectsDeadTCPEndpoint(t *testing.T) {
	s := newSidecar(t)
	tcp := freeAddr(t)
	c := staticCluster("od-tcp", echoServer(t, "echo"), deadAddr(t))
	c.Outlier = &spec.OutlierDetection{Consecutive5xx: 3, EnforcingConsecutive5xx: 100,
		ConsecutiveGatewayFailure: 5, ConsecutiveLocalOriginFailure: 5,
		Interval: time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionTime: time.Minute, MaxEjectionPercent: 50}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{tcpListener("tcp", tcp, "od-tcp")}, Clusters: []config.Cluster{c}}); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot().Clusters["od-tcp"]
	for i := 0; !snap.Endpoints[1].Outlier.Ejected(); i++ {
		if i == 50 {
			t.Fatal("dead endpoint not ejected after 50 connections")
		}
		if got := greeting(t, "", tcp); got != "echo" {
			t.Fatalf("greeting %q, want echo (redispatched)", got)
		}
	}
	fails := snap.Stats.CxConnectFail.Load()
	for range 10 {
		if got := greeting(t, "", tcp); got != "echo" {
			t.Fatalf("greeting %q after ejection, want echo", got)
		}
	}
	if n := snap.Stats.CxConnectFail.Load(); n != fails {
		t.Errorf("upstream_cx_connect_fail grew from %d to %d after ejection", fails, n)
	}
}
