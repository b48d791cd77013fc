package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// statsBackend answers /ok 200, /fail 503, /retry 500 then 200, and /slow
// after 2 s; slow is closed when the test ends.
func statsBackend(t *testing.T) string {
	var retried atomic.Int32
	slow := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(503)
		case "/retry":
			if retried.Add(1) == 1 {
				w.WriteHeader(500)
			}
		case "/slow":
			select {
			case <-slow:
			case <-time.After(2 * time.Second):
			}
		}
	}))
	t.Cleanup(func() { close(slow); be.Close() })
	return be.Listener.Addr().String()
}

func statsSet(backend string) *config.Set {
	route := func(path string, a config.RouteAction) config.Route {
		a.Cluster = "be"
		return config.Route{Match: config.RouteMatch{Kind: config.PathExact, Path: path, CaseSensitive: true}, Action: &a}
	}
	routes := &config.RouteConfig{Name: "r", VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []config.Route{
		route("/retry", config.RouteAction{Retry: &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 1}}),
		route("/slow", config.RouteAction{Timeout: 100 * time.Millisecond}),
		{Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/", CaseSensitive: true}, Action: &config.RouteAction{Cluster: "be"}},
	}}}}
	return &config.Set{
		Listeners: []config.Listener{{Name: "web", Address: "127.0.0.1:0", FilterChains: []config.FilterChain{{HTTP: &config.HTTPManager{StatPrefix: "ingress", Routes: routes}}}}},
		Clusters: []config.Cluster{{Name: "be", LBPolicy: "round_robin", ConnectTimeout: time.Second,
			Static: &config.LoadAssignment{ClusterName: "be", Endpoints: []config.Endpoint{{Address: backend, Weight: 1}}}}},
	}
}

// TestPrometheusKnownTraffic sends 3 × 200, 2 × 503, one request retried
// after a 500 and one that times out, then parses /stats/prometheus with
// the Prometheus text parser and checks Envoy's names, labels and values.
func TestPrometheusKnownTraffic(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(statsSet(statsBackend(t))); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	base := "http://" + sc.Addresses()["web"]
	want := map[string]int{"/ok": 200, "/fail": 503, "/retry": 200, "/slow": 504}
	for _, p := range []string{"/ok", "/ok", "/ok", "/fail", "/fail", "/retry", "/slow"} {
		resp, err := c.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want[p] {
			t.Fatalf("GET %s = %d, want %d", p, resp.StatusCode, want[p])
		}
	}
	// A request is counted once its response is written, which the client
	// may see first.
	body, fams := scrape(t, Handler(sc), func(got map[string]float64) bool {
		return got[`envoy_http_downstream_rq_time_count{envoy_http_conn_manager_prefix="ingress"}`] == 7 &&
			got[`envoy_cluster_upstream_rq_time_count{envoy_cluster_name="be"}`] == 7
	})
	be := `envoy_cluster_name="be"`
	ing := `envoy_http_conn_manager_prefix="ingress"`
	checks := map[string]float64{
		// Upstream: every response, the retried 500 too (8 of them).
		`envoy_cluster_upstream_rq_total{` + be + `}`:                              8,
		`envoy_cluster_upstream_rq{` + be + `,envoy_response_code="200"}`:          4,
		`envoy_cluster_upstream_rq{` + be + `,envoy_response_code="500"}`:          1,
		`envoy_cluster_upstream_rq{` + be + `,envoy_response_code="503"}`:          2,
		`envoy_cluster_upstream_rq{` + be + `,envoy_response_code="504"}`:          1,
		`envoy_cluster_upstream_rq_xx{` + be + `,envoy_response_code_class="2"}`:   4,
		`envoy_cluster_upstream_rq_xx{` + be + `,envoy_response_code_class="5"}`:   4,
		`envoy_cluster_upstream_rq_retry{` + be + `}`:                              1,
		`envoy_cluster_upstream_rq_timeout{` + be + `}`:                            1,
		`envoy_cluster_membership_healthy{` + be + `}`:                             1,
		`envoy_cluster_membership_total{` + be + `}`:                               1,
		`envoy_cluster_circuit_breakers_default_rq_open{` + be + `}`:               0,
		`envoy_cluster_upstream_rq_time_count{` + be + `}`:                         7,
		`envoy_cluster_upstream_cx_connect_ms_count{` + be + `}`:                   2, // a second connection after the timed-out one
		`envoy_http_downstream_rq_total{` + ing + `}`:                              7,
		`envoy_http_downstream_rq_xx{` + ing + `,envoy_response_code_class="5"}`:   3,
		`envoy_http_downstream_rq{` + ing + `,envoy_response_code="504"}`:          1,
		`envoy_http_downstream_rq_time_count{` + ing + `}`:                         7,
		`envoy_listener_downstream_cx_total{envoy_listener_address="127.0.0.1_0"}`: 1,
		`envoy_server_live`: 1,
		`envoy_cluster_upstream_rq_time_bucket{` + be + `,le="+Inf"}`:               7,
		`envoy_http_downstream_rq_time_bucket{` + ing + `,le="3600000"}`:            7,
		`envoy_listener_downstream_cx_active{envoy_listener_address="127.0.0.1_0"}`: -1,
		`envoy_cluster_upstream_cx_connect_ms_bucket{` + be + `,le="0.5"}`:          -1, // present, any value
		`envoy_cluster_outlier_detection_ejections_active{` + be + `}`:              -2, // absent: no outlier detection
		`envoy_cluster_upstream_rq{` + be + `,envoy_response_code="404"}`:           -2,
		`envoy_http_downstream_rq_xx{` + ing + `,envoy_response_code_class="1"}`:    0,
		`envoy_cluster_upstream_rq_time_bucket{` + be + `,le="100"}`:                -1,
		`envoy_cluster_upstream_rq_time_bucket{` + be + `,le="3600000"}`:            7,
		`envoy_cluster_upstream_rq_pending_overflow{` + be + `}`:                    0,
		`envoy_cluster_upstream_cx_active{` + be + `}`:                              -1,
		`envoy_server_uptime`:           -1,
		`envoy_server_memory_allocated`: -1,
		`envoy_listener_downstream_cx_length_ms_count{envoy_listener_address="127.0.0.1_0"}`: -1,
	}
	got := flatten(fams)
	for series, v := range checks {
		g, ok := got[series]
		switch {
		case v == -2 && ok:
			t.Errorf("%s = %v, want absent", series, g)
		case v == -2:
		case !ok:
			t.Errorf("%s missing", series)
		case v >= 0 && g != v:
			t.Errorf("%s = %v, want %v", series, g, v)
		}
	}
	if typ := fams["envoy_cluster_upstream_rq_time"].GetType(); typ != dto.MetricType_HISTOGRAM {
		t.Errorf("upstream_rq_time is a %v, want a histogram", typ)
	}
	if t.Failed() {
		t.Logf("/stats/prometheus:\n%s", body)
	}
}

// scrape parses /stats/prometheus until done holds of its series, for at
// most 5 s.
func scrape(t *testing.T, h http.Handler, done func(map[string]float64) bool) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, body := get(t, h, "/stats/prometheus")
		parser := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parsing /stats/prometheus: %v\n%s", err, body)
		}
		if done(flatten(fams)) || time.Now().After(deadline) {
			return body, fams
		}
	}
}

// TestCollectorMatchesExposition: the client_golang Collector, gathered
// by a registry, yields the very series /stats/prometheus writes.
func TestCollectorMatchesExposition(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(statsSet(statsBackend(t))); err != nil {
		t.Fatal(err)
	}
	sc.Snapshot().Clusters["be"].Stats.CountStatus(200)
	sc.Snapshot().Clusters["be"].Stats.RqTime.Record(3 * time.Millisecond)
	h := Handler(sc)
	_, fams := scrape(t, h, func(map[string]float64) bool { return true })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(sc))
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range gathered {
		byName[f.GetName()] = f
	}
	want, got := flatten(fams), flatten(byName)
	delete(want, "envoy_server_uptime")
	delete(got, "envoy_server_uptime")
	delete(want, "envoy_server_memory_allocated")
	delete(got, "envoy_server_memory_allocated")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Collector vs /stats/prometheus (-text +collector):\n%s", diff)
	}
}

// flatten maps each series, written name{label="v",...} in the order the
// text format lists labels, to its value; histograms as _bucket, _count.
func flatten(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(ls) // Envoy writes labels in extraction order
			key := func(suffix string, extra ...string) string {
				all := append(append([]string(nil), ls...), extra...)
				if len(all) == 0 {
					return name + suffix
				}
				return name + suffix + "{" + strings.Join(all, ",") + "}"
			}
			switch {
			case m.Histogram != nil:
				out[key("_count")] = float64(m.Histogram.GetSampleCount())
				out[key("_sum")] = m.Histogram.GetSampleSum()
				for _, b := range m.Histogram.Bucket {
					out[key("_bucket", fmt.Sprintf("le=%q", model.FloatString(b.GetUpperBound()).String()))] = float64(b.GetCumulativeCount())
				}
				out[key("_bucket", `le="+Inf"`)] = float64(m.Histogram.GetSampleCount())
			case m.Counter != nil:
				out[key("")] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key("")] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

// TestStatsFilterAndJSON: /stats?filter= keeps matching names, and
// ?format=json has Envoy's shape with histograms' quantiles.
func TestStatsFilterAndJSON(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(statsSet(statsBackend(t))); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + sc.Addresses()["web"] + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := Handler(sc)
	scrape(t, h, func(got map[string]float64) bool {
		return got[`envoy_cluster_upstream_rq_time_count{envoy_cluster_name="be"}`] == 1
	})
	_, body := get(t, h, "/stats?filter=^cluster\\.be\\.upstream_rq_(total|200|time)$")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 3 || lines[0] != "cluster.be.upstream_rq_200: 1" || !strings.HasPrefix(lines[1], "cluster.be.upstream_rq_time: P0(nan,") ||
		lines[2] != "cluster.be.upstream_rq_total: 1" {
		t.Errorf("/stats?filter= =\n%s", body)
	}
	if code, _ := get(t, h, "/stats?filter=("); code != 400 {
		t.Errorf("bad filter: %d, want 400", code)
	}
	_, body = get(t, h, "/stats?format=json&filter=upstream_rq_(total|time)$")
	for _, w := range []string{`"name": "cluster.be.upstream_rq_total"`, `"value": 1`, `"supported_quantiles"`, `"name": "cluster.be.upstream_rq_time"`} {
		if !strings.Contains(body, w) {
			t.Errorf("json lacks %s:\n%s", w, body)
		}
	}
}
