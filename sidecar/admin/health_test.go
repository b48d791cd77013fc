package admin

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestActiveHealthFlags: /clusters flags the endpoint that fails its
// active health check, /stats counts the checks under Envoy's names, and
// the sidecar's Close stops the checkers (goleak).
func TestActiveHealthFlags(t *testing.T) {
	liveAddr := loopback.Start(t, func(context.Context, net.Conn) {})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	h := Handler(sc)
	hc := &spec.HealthCheck{Timeout: time.Second, Interval: 20 * time.Millisecond, NoTrafficInterval: 20 * time.Millisecond,
		UnhealthyInterval: 20 * time.Millisecond, UnhealthyEdgeInterval: 20 * time.Millisecond, HealthyEdgeInterval: 20 * time.Millisecond,
		HealthyThreshold: 1, UnhealthyThreshold: 1, TCP: &spec.TCPHealthCheck{}}
	set := &config.Set{Clusters: []config.Cluster{{Name: "be", HealthCheck: hc, Static: &config.LoadAssignment{ClusterName: "be",
		Endpoints: []config.Endpoint{{Address: liveAddr, Weight: 1}, {Address: deadAddr, Weight: 1}}}}}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"be::" + liveAddr + "::health_flags::healthy",
		"be::" + deadAddr + "::health_flags::/failed_active_hc",
	}
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, body = get(t, h, "/clusters")
		_, stats := get(t, h, "/stats")
		if containsAll(body, want) && strings.Contains(stats, "cluster.be.health_check.healthy: 1") &&
			!strings.Contains(stats, "cluster.be.health_check.network_failure: 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/clusters lacks %q, or /stats the checks:\n%s\n%s", want, body, stats)
		}
	}
	_, stats := get(t, h, "/stats")
	for _, name := range []string{"attempt", "success", "failure", "network_failure", "passive_failure", "verify_cluster"} {
		if !strings.Contains(stats, "cluster.be.health_check."+name+": ") {
			t.Errorf("/stats lacks cluster.be.health_check.%s", name)
		}
	}
	// The same check configuration again keeps the verdicts.
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	if _, body = get(t, h, "/clusters"); !containsAll(body, want) {
		t.Errorf("after re-applying, /clusters lacks %q:\n%s", want, body)
	}
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
