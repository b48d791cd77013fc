package admin

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// consulAPI is the name Consul gives the cluster of upstream api in dc1.
const consulAPI = "api.default.dc1.internal.11111111-2222-3333-4444-555555555555.consul"

// consulTagged is a sidecar with Consul's cluster naming (api, and
// local_app) and an HTTP listener with Consul's upstream stat prefix,
// under the stats_config of the bootstrap Consul 1.21 writes.
func consulTagged(t *testing.T) (*sidecar.Sidecar, []Option) {
	b, err := config.LoadBootstrap("../config/testdata/consul-1.21-bootstrap.json")
	if err != nil {
		t.Fatal(err)
	}
	set := statsSet("127.0.0.1:9")
	set.Listeners[0].FilterChains[0].HTTP.StatPrefix = "upstream.api.default.default.dc1"
	api := set.Clusters[0]
	api.Name = consulAPI
	set.Listeners[0].FilterChains[0].HTTP.Routes.VirtualHosts[0].Routes[2].Action.Cluster = consulAPI
	local := set.Clusters[0]
	local.Name = "local_app"
	set.Clusters = []config.Cluster{api, local}
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { sc.Close(time.Second) })
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	sc.Snapshot().Clusters[consulAPI].Stats.CountStatus(200)
	return sc, []Option{WithStatsTags(b.Stats)}
}

// labelsOf returns the labels of the series of family whose label key
// has value, or nil.
func labelsOf(fams map[string]*dto.MetricFamily, family, key, value string) map[string]string {
	for _, m := range fams[family].GetMetric() {
		ls := map[string]string{}
		for _, l := range m.GetLabel() {
			ls[l.GetName()] = l.GetValue()
		}
		if ls[key] == value {
			return ls
		}
	}
	return nil
}

// TestConsulStatsTags: under the stats_config Consul writes, the
// consul.destination.* tags of a cluster named the Consul way, the
// consul.upstream.* tags of an upstream listener's HTTP stats and the
// fixed tags (local_cluster, consul.source.*) are Prometheus labels, as
// Envoy emits them, beside Envoy's default ones; the text parser and a
// pedantic client_golang registry both accept the output.
func TestConsulStatsTags(t *testing.T) {
	sc, opts := consulTagged(t)
	h := Handler(sc, opts...)
	body, fams := scrape(t, h, func(map[string]float64) bool { return true })
	source := map[string]string{"local_cluster": "web", "consul_source_service": "web", "consul_source_namespace": "default",
		"consul_source_partition": "default", "consul_source_datacenter": "dc1"}
	want := map[string]string{
		"envoy_cluster_name": "api", "envoy_response_code": "200",
		"consul_destination_service": "api", "consul_destination_namespace": "default", "consul_destination_datacenter": "dc1",
		"consul_destination_partition": "", "consul_destination_service_subset": "", "consul_destination_custom_hash": "",
		"consul_destination_routing_type": "internal", "consul_destination_trust_domain": "11111111-2222-3333-4444-555555555555",
		"consul_destination_target": "api.default.dc1", "consul_destination_full_target": "api.default.dc1.internal.11111111-2222-3333-4444-555555555555",
		"consul_custom_hash": "", "consul_service_subset": "", "consul_service": "api", "consul_namespace": "default",
		"consul_datacenter": "dc1", "consul_routing_type": "internal", "consul_trust_domain": "11111111-2222-3333-4444-555555555555",
		"consul_target": "api.default.dc1", "consul_full_target": "api.default.dc1.internal.11111111-2222-3333-4444-555555555555",
	}
	for k, v := range source {
		want[k] = v
	}
	got := labelsOf(fams, "envoy_cluster_upstream_rq", "envoy_cluster_name", "api")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels of envoy_cluster_upstream_rq for %s (-want +got):\n%s\n%s", consulAPI, diff, body)
	}
	// local_app is no Consul target: only the fixed tags.
	got = labelsOf(fams, "envoy_cluster_upstream_rq_total", "envoy_cluster_name", "local_app")
	wantLocal := map[string]string{"envoy_cluster_name": "local_app"}
	for k, v := range source {
		wantLocal[k] = v
	}
	if diff := cmp.Diff(wantLocal, got); diff != "" {
		t.Errorf("labels of local_app (-want +got):\n%s", diff)
	}
	got = labelsOf(fams, "envoy_http_downstream_rq_total", "envoy_http_conn_manager_prefix", "upstream")
	for k, v := range map[string]string{"consul_upstream_service": "api", "consul_upstream_datacenter": "dc1", "consul_upstream_namespace": "default", "local_cluster": "web"} {
		if got[k] != v {
			t.Errorf("envoy_http_downstream_rq_total %s = %q, want %q (labels %v)", k, got[k], v, got)
		}
	}
	if got := labelsOf(fams, "envoy_server_live", "local_cluster", "web"); got == nil {
		t.Error("envoy_server_live lacks the fixed tags")
	}
	if strings.Contains(body, "consul_destination_service=\"api\",consul_destination_service") {
		t.Error("a label is repeated")
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(sc, opts...))
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the Collector with stats tags: %v", err)
	}
	for _, f := range gathered {
		if f.GetName() != "envoy_cluster_upstream_rq" {
			continue
		}
		byName := map[string]*dto.MetricFamily{f.GetName(): f}
		if got := labelsOf(byName, f.GetName(), "envoy_cluster_name", "api"); got["consul_destination_service"] != "api" || got["local_cluster"] != "web" {
			t.Errorf("Collector labels of %s: %v", consulAPI, got)
		}
	}
}
