package admin

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestOutlierFlagsAndStats: an endpoint ejected by the cluster's detector
// (told five 503s through picks) is flagged /failed_outlier_check in
// /clusters and counted in /stats under Envoy's names.
func TestOutlierFlagsAndStats(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	h := Handler(sc)
	od := &spec.OutlierDetection{Consecutive5xx: 5, EnforcingConsecutive5xx: 100, ConsecutiveGatewayFailure: 5,
		ConsecutiveLocalOriginFailure: 5, Interval: time.Hour, BaseEjectionTime: time.Hour, MaxEjectionTime: time.Hour,
		MaxEjectionPercent: 50}
	set := &config.Set{Clusters: []config.Cluster{{Name: "be", Outlier: od, Static: &config.LoadAssignment{ClusterName: "be",
		Endpoints: []config.Endpoint{{Address: "127.0.0.1:1", Weight: 1}, {Address: "127.0.0.1:2", Weight: 1}}}}}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	c := sc.Snapshot().Clusters["be"]
	for range 5 {
		p := c.Pick(0)
		p.Endpoint = c.Endpoints[1]
		p.Done(cluster.Outcome{Status: 503})
	}
	want := []string{
		"be::127.0.0.1:1::health_flags::healthy",
		"be::127.0.0.1:2::health_flags::/failed_outlier_check",
	}
	var body, stats string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, body = get(t, h, "/clusters")
		if containsAll(body, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/clusters lacks %q:\n%s", want, body)
		}
	}
	// A configuration update (the same, decoded anew) keeps the ejection.
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	if _, body = get(t, h, "/clusters"); !containsAll(body, want) {
		t.Errorf("after re-applying, /clusters lacks %q:\n%s", want, body)
	}
	_, stats = get(t, h, "/stats")
	for _, w := range []string{
		"cluster.be.outlier_detection.ejections_active: 1",
		"cluster.be.outlier_detection.ejections_enforced_total: 1",
		"cluster.be.outlier_detection.ejections_detected_consecutive_5xx: 1",
		"cluster.be.outlier_detection.ejections_enforced_consecutive_5xx: 1",
		"cluster.be.outlier_detection.ejections_enforced_consecutive_gateway_failure: 0",
		"cluster.be.outlier_detection.ejections_overflow: 0",
	} {
		if !strings.Contains(stats, w) {
			t.Errorf("/stats lacks %q", w)
		}
	}
}
