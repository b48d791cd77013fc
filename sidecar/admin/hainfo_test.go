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

// TestClustersSuccessRate: /clusters shows per endpoint the outlier
// detector's success rate of its last interval, as Envoy's
// "::success_rate::" (-1 when not rated), in the text and JSON forms.
func TestClustersSuccessRate(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	h := Handler(sc)
	od := &spec.OutlierDetection{Consecutive5xx: 5, ConsecutiveGatewayFailure: 5, ConsecutiveLocalOriginFailure: 5,
		Interval: time.Second, BaseEjectionTime: time.Hour, MaxEjectionTime: time.Hour, MaxEjectionPercent: 10,
		SuccessRateMinimumHosts: 5, SuccessRateRequestVolume: 10, SuccessRateStdevFactor: 1900}
	set := &config.Set{Clusters: []config.Cluster{{Name: "be", Outlier: od, Static: &config.LoadAssignment{ClusterName: "be",
		Endpoints: []config.Endpoint{{Address: "127.0.0.1:1", Weight: 1}, {Address: "127.0.0.1:2", Weight: 1}, {Address: "127.0.0.1:3", Weight: 1}}}}}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	c := sc.Snapshot().Clusters["be"]
	report := func(ep int, statuses ...int) {
		for _, s := range statuses {
			p := c.Pick(0)
			p.Endpoint = c.Endpoints[ep]
			p.Done(cluster.Outcome{Status: s})
		}
	}
	// 10 successes; 7 of 10 (never 5 failures in a row); 2 requests only.
	report(0, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)
	report(1, 200, 503, 200, 503, 200, 503, 200, 200, 200, 200)
	report(2, 200, 200)
	want := []string{
		"be::127.0.0.1:1::success_rate::100\n",
		"be::127.0.0.1:2::success_rate::70\n",
		"be::127.0.0.1:3::success_rate::-1\n",
	}
	var body, js string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, body = get(t, h, "/clusters")
		_, js = get(t, h, "/clusters?format=json")
		if containsAll(body, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/clusters lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(js, `"success_rate": {`) {
		t.Errorf("/clusters?format=json has no success_rate:\n%s", js)
	}
}

// TestClustersEWMA: an endpoint with a peak-EWMA estimate shows it in
// milliseconds as "::ewma_ms::" (meshlb's own line); one without has none.
func TestClustersEWMA(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	h := Handler(sc)
	set := &config.Set{Clusters: []config.Cluster{{Name: "be", LBPolicy: "peak_ewma", Static: &config.LoadAssignment{ClusterName: "be",
		Endpoints: []config.Endpoint{{Address: "127.0.0.1:1", Weight: 1}, {Address: "127.0.0.1:2", Weight: 1}}}}}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	c := sc.Snapshot().Clusters["be"]
	c.Endpoints[0].Latency.Set(float64(12500*time.Microsecond), time.Now().UnixNano())
	_, body := get(t, h, "/clusters")
	if !strings.Contains(body, "be::127.0.0.1:1::ewma_ms::12.500\n") || strings.Contains(body, "be::127.0.0.1:2::ewma_ms") {
		t.Errorf("/clusters: want ewma_ms 12.500 for the first endpoint only:\n%s", body)
	}
	if _, js := get(t, h, "/clusters?format=json"); !strings.Contains(js, `"meshlb_ewma_ms": 12.5`) {
		t.Errorf("/clusters?format=json lacks meshlb_ewma_ms 12.5:\n%s", js)
	}
}

// TestLBHealthyPanic: picks made at a priority level in panic (1 of 4
// endpoints healthy, below the 50% threshold) are counted in
// lb_healthy_panic; with the threshold at 0 (panic disabled) none are.
func TestLBHealthyPanic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold float64
		want      string
	}{
		{"panic", 50, "cluster.be.lb_healthy_panic: 20"},
		{"panic disabled", 0, "cluster.be.lb_healthy_panic: 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := sidecar.New(slog.New(slog.DiscardHandler))
			defer sc.Close(time.Second)
			la := &config.LoadAssignment{ClusterName: "be"}
			for i, a := range []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"} {
				e := config.Endpoint{Address: a, Weight: 1}
				if i > 0 {
					e.Health = spec.Unhealthy
				}
				la.Endpoints = append(la.Endpoints, e)
			}
			set := &config.Set{Clusters: []config.Cluster{{Name: "be", PanicThreshold: tc.threshold, Static: la}}}
			if err := sc.Apply(set); err != nil {
				t.Fatal(err)
			}
			c := sc.Snapshot().Clusters["be"]
			for range 20 {
				c.Pick(0)
			}
			if _, stats := get(t, Handler(sc), "/stats"); !strings.Contains(stats, tc.want+"\n") {
				t.Errorf("/stats lacks %q", tc.want)
			}
		})
	}
}
