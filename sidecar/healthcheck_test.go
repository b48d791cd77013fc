package sidecar

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/health"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestHealthCheckersOutliveSnapshots: a configuration update with an equal
// check (decoded anew) keeps the cluster's checker and verdicts and starts
// checking an added endpoint, failing until checked; a changed check
// replaces the checker but keeps the verdicts; a removed endpoint's check
// stops; a removed cluster's checker is closed (goleak checks the rest).
func TestHealthCheckersOutliveSnapshots(t *testing.T) {
	a, b := acceptor(t), acceptor(t)
	s := New(slog.New(slog.DiscardHandler))
	defer s.Close(time.Second)
	check := func(interval time.Duration) *spec.HealthCheck {
		return &spec.HealthCheck{Timeout: time.Second, Interval: interval, NoTrafficInterval: interval,
			UnhealthyInterval: 20 * time.Millisecond, UnhealthyEdgeInterval: 20 * time.Millisecond, HealthyEdgeInterval: interval,
			HealthyThreshold: 1, UnhealthyThreshold: 1, TCP: &spec.TCPHealthCheck{}}
	}
	set := func(hc *spec.HealthCheck, addrs ...string) *spec.Set {
		la := &spec.LoadAssignment{ClusterName: "be"}
		for _, a := range addrs {
			la.Endpoints = append(la.Endpoints, spec.Endpoint{Address: a, Weight: 1})
		}
		return &spec.Set{Clusters: []spec.Cluster{{Name: "be", HealthCheck: hc, Static: la}}}
	}
	apply := func(set *spec.Set) (*cluster.Cluster, *health.Checker) {
		t.Helper()
		if err := s.Apply(set); err != nil {
			t.Fatal(err)
		}
		c := s.Snapshot().Clusters["be"]
		hc, _ := c.Runtime.Checker().(*health.Checker)
		return c, hc
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	c1, hc1 := apply(set(check(time.Hour), a))
	wait("a to pass", func() bool { return c1.Endpoints[0].Usable() })
	if c1.Runtime.Picker().Pick(0) == nil {
		t.Fatalf("the picker has no endpoint after a passed")
	}
	c2, hc2 := apply(set(check(time.Hour), a, b))
	if hc2 != hc1 {
		t.Errorf("an equal check replaced the checker")
	}
	if !c2.Endpoints[0].Usable() {
		t.Errorf("an equal check reset a's verdict")
	}
	wait("b to pass", func() bool { return c2.Endpoints[1].Usable() })
	c3, hc3 := apply(set(check(30*time.Minute), a, b))
	if hc3 == hc1 {
		t.Errorf("a changed check kept the checker")
	}
	if !c3.Endpoints[0].Usable() || !c3.Endpoints[1].Usable() {
		t.Errorf("a changed check reset the verdicts")
	}
	if hc3.Checking() != 2 {
		t.Errorf("checking %d endpoints, want 2", hc3.Checking())
	}
	_, hc4 := apply(set(check(30*time.Minute), a))
	if hc4 != hc3 || hc4.Checking() != 1 {
		t.Errorf("after removing b: checker kept %v, checking %d, want kept and 1", hc4 == hc3, hc4.Checking())
	}
	if err := s.Apply(&spec.Set{}); err != nil {
		t.Fatal(err)
	}
	if hc4.Checking() != 0 {
		t.Errorf("the removed cluster's checker still checks %d endpoints", hc4.Checking())
	}
}

// acceptor listens on loopback and closes what it accepts.
func acceptor(t *testing.T) string {
	t.Helper()
	return loopback.Start(t, func(context.Context, net.Conn) {})
}
