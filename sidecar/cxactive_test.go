package sidecar

import (
	"context"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// poll waits until cond holds, for at most 5 s, and reports whether it did.
func poll(cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		if ctx.Err() != nil {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestUpstreamCxActiveCountsConnections checks that upstream_cx_active
// counts open upstream connections, idle pooled ones included, not the
// exchanges in progress, and drops when the pool closes them.
func TestUpstreamCxActiveCountsConnections(t *testing.T) {
	s := newSidecar(t)
	be := named(t, "a")
	url := serveHTTP(t, s, staticCluster("web", be), nil)
	c := newClient()
	defer c.CloseIdleConnections()
	for range 3 {
		if got := body(t, c, url+"/"); got != "a" {
			t.Fatalf("body = %q, want a", got)
		}
	}
	st := stats(s, "web")
	if !poll(func() bool { return st.Cx.Active() == 0 }) {
		t.Fatalf("exchanges still hold connection slots: %d", st.Cx.Active())
	}
	if got, total := st.CxActive.Load(), st.CxTotal.Load(); got != 1 || total != 1 {
		t.Errorf("upstream_cx_active = %d, upstream_cx_total = %d with one idle pooled connection, want 1, 1", got, total)
	}
	// The endpoint leaves: its pool closes the idle connection.
	other := named(t, "b")
	serveHTTP(t, s, staticCluster("web", other), nil)
	if !poll(func() bool { return st.CxActive.Load() == 0 }) {
		t.Errorf("upstream_cx_active = %d after the pool closed its connection, want 0", st.CxActive.Load())
	}
}

// TestCxActiveSurvivesStatPrefixChange closes a connection accepted under
// one stat prefix after the listener moved to another: each prefix's
// downstream_cx_active must come back to 0, not drift to 1 and -1.
func TestCxActiveSurvivesStatPrefixChange(t *testing.T) {
	s := newSidecar(t)
	be, addr := named(t, "a"), freeAddr(t)
	apply := func(prefix string) {
		l := httpListener("web", addr, "web")
		l.FilterChains[0].HTTP.StatPrefix = prefix
		if err := s.Apply(&config.Set{Listeners: []config.Listener{l}, Clusters: []config.Cluster{staticCluster("web", be)}}); err != nil {
			t.Fatal(err)
		}
	}
	apply("before")
	c := newClient()
	if got := body(t, c, "http://"+addr+"/"); got != "a" {
		t.Fatalf("body = %q, want a", got)
	}
	apply("after")
	c.CloseIdleConnections()
	before, after := s.stats.http("before"), s.stats.http("after")
	if !poll(func() bool { return before.CxActive.Load() == 0 }) || after.CxActive.Load() != 0 {
		t.Errorf("downstream_cx_active before, after = %d, %d, want 0, 0", before.CxActive.Load(), after.CxActive.Load())
	}
}
