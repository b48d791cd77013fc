package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestEndpoints(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	h := Handler(sc)
	if code, _ := get(t, h, "/ready"); code != 503 {
		t.Errorf("/ready before config = %d, want 503", code)
	}
	set := &config.Set{
		Listeners: []config.Listener{{Name: "tcp", Address: "127.0.0.1:0", FilterChains: []config.FilterChain{{TCP: &config.TCPProxy{StatPrefix: "tcp_in", Cluster: "be"}}}}},
		Clusters: []config.Cluster{{Name: "be", LBPolicy: "round_robin", Static: &config.LoadAssignment{ClusterName: "be", Endpoints: []config.Endpoint{
			{Address: "127.0.0.1:9", Weight: 2}, {Address: "127.0.0.1:10", Weight: 1, Health: config.Unhealthy},
		}}}},
		Dump: []byte(`{"configs":["x"]}`),
	}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/ready", []string{"LIVE"}},
		{"/config_dump", []string{`{"configs":["x"]}`}},
		{"/clusters", []string{"be::127.0.0.1:9::weight::2", "be::127.0.0.1:9::health_flags::healthy", "be::127.0.0.1:10::health_flags::/failed_eds_health"}},
		{"/stats", []string{"cluster.be.upstream_rq_total: 0", "tcp.tcp_in.downstream_cx_total: 0",
			"listener.127.0.0.1_0.no_filter_chain_match: 0"}},
		{"/stats/prometheus", []string{"# TYPE envoy_cluster_upstream_rq_total counter", `envoy_cluster_upstream_rq_total{envoy_cluster_name="be"} 0`,
			`envoy_listener_no_filter_chain_match{envoy_listener_address="127.0.0.1_0"} 0`}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, h, tc.path)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s lacks %q:\n%s", tc.path, w, body)
				}
			}
		})
	}
}

// TestConfigDumpOnDemand checks that a Set's Dumper runs only when
// /config_dump is asked, and that an endpoint-less cluster is listed in
// /clusters.
func TestConfigDumpOnDemand(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	h := Handler(sc)
	rendered := 0
	set := &config.Set{
		Clusters:  []config.Cluster{{Name: "empty", Type: config.DiscoveryEDS}},
		Endpoints: map[string]*config.LoadAssignment{"empty": {ClusterName: "empty"}},
		Dumper: func() ([]byte, error) {
			rendered++
			return []byte(`{"configs":["lazy"]}`), nil
		},
	}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	if rendered != 0 {
		t.Errorf("dump rendered %d times by Apply, want 0", rendered)
	}
	if _, body := get(t, h, "/config_dump"); body != `{"configs":["lazy"]}` || rendered != 1 {
		t.Errorf("/config_dump = %q after %d renders, want the Dumper's output after 1", body, rendered)
	}
	if _, body := get(t, h, "/clusters"); !strings.Contains(body, "empty::default_priority::max_connections::") {
		t.Errorf("/clusters lacks the endpoint-less cluster:\n%s", body)
	}
}
