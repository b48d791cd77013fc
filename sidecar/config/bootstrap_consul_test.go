package config

import (
	"encoding/json"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// The bootstraps `consul connect envoy -bootstrap -sidecar-for web` (Consul
// 1.21) writes, plain and with TLS to the agent and a token, and the same
// in the YAML forms Envoy accepts, load with everything they configure.
func TestLoadConsulBootstrap(t *testing.T) {
	tests := []struct {
		name, file string
		token      string
		tls        bool
		logs       []string
		tags       int
		runtime    map[string]string
		timeout    time.Duration // local_agent's connect_timeout
	}{
		{name: "json", file: "consul-1.21-bootstrap.json", logs: []string{"/dev/null"}, tags: 30,
			runtime: map[string]string{"re2.max_program_size.error_level": "1048576"}, timeout: time.Second},
		{name: "json with tls and token", file: "consul-1.21-tls-bootstrap.json", token: "s3cr3t", tls: true,
			logs: []string{"/dev/null"}, tags: 30,
			runtime: map[string]string{"re2.max_program_size.error_level": "1048576"}, timeout: time.Second},
		{name: "yaml envoy forms", file: "consul-envoy-forms.yaml", token: "t0k3n", logs: []string{"/dev/null"}, tags: 1,
			runtime: map[string]string{"re2.max_program_size.error_level": "1048576", "upstream.use_http2": "false"},
			timeout: 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBootstrap("testdata/" + tc.file)
			if err != nil {
				t.Fatalf("LoadBootstrap: %v", err)
			}
			if b.NodeID != "web-sidecar-proxy" || b.NodeCluster != "web" || b.AdminAddress != "127.0.0.1:19000" {
				t.Errorf("node %q/%q admin %q, want web-sidecar-proxy/web 127.0.0.1:19000", b.NodeID, b.NodeCluster, b.AdminAddress)
			}
			ads := b.ADS
			if ads == nil || !ads.Delta || !ads.LDS || !ads.CDS || ads.Cluster != "local_agent" || len(ads.Targets) != 1 {
				t.Fatalf("ADS = %+v, want delta LDS+CDS over local_agent", ads)
			}
			if diff := cmp.Diff([]spec.Header{{Key: "x-consul-token", Value: tc.token}}, ads.Metadata); diff != "" {
				t.Errorf("initial_metadata (-want +got):\n%s", diff)
			}
			if got := ads.TLS != nil && len(ads.TLS.Validation.TrustedCA) > 0; got != tc.tls {
				t.Errorf("ADS over TLS with a trusted CA = %v, want %v", got, tc.tls)
			}
			if diff := cmp.Diff(tc.logs, b.AdminAccessLogs); diff != "" {
				t.Errorf("admin access logs (-want +got):\n%s", diff)
			}
			if len(b.Stats.Tags) != tc.tags {
				t.Errorf("stats tags %d, want %d", len(b.Stats.Tags), tc.tags)
			}
			if diff := cmp.Diff(tc.runtime, b.Runtime); diff != "" {
				t.Errorf("runtime (-want +got):\n%s", diff)
			}
			if c := b.Static.Clusters; len(c) != 1 || c[0].ConnectTimeout != tc.timeout {
				t.Errorf("static clusters %+v, want local_agent with connect_timeout %v", c, tc.timeout)
			}
		})
	}
}

// A stats tag's regex and fixed value are kept as written.
func TestConsulStatsTags(t *testing.T) {
	b, err := LoadBootstrap("testdata/consul-1.21-bootstrap.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.StatsTag{
		{Name: "consul.destination.custom_hash",
			Regex: `^cluster\.(?:passthrough~)?((?:([^.]+)~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)`},
		{Name: "local_cluster", Fixed: "web"},
	}
	got := []spec.StatsTag{b.Stats.Tags[0], b.Stats.Tags[25]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats tags (-want +got):\n%s", diff)
	}
}

// The leniency is Envoy's, not more: what Envoy rejects still fails.
func TestEnvoyLenient(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"single object for a list", `{"static_resources":{"clusters":{"name":"a"}}}`,
			`{"static_resources":{"clusters":[{"name":"a"}]}}`},
		{"duration object", `{"admin":{},"static_resources":{"clusters":[{"connect_timeout":{"seconds":2,"nanos":5}}]}}`,
			`{"admin":{},"static_resources":{"clusters":[{"connect_timeout":"2.000000005s"}]}}`},
		{"negative duration", `{"static_resources":{"clusters":[{"connectTimeout":{"seconds":-1,"nanos":-5}}]}}`,
			`{"static_resources":{"clusters":[{"connectTimeout":"-1.000000005s"}]}}`},
		{"duration with another key is left", `{"static_resources":{"clusters":[{"connect_timeout":{"seconds":1,"x":1}}]}}`, ""},
		{"durations in an Any", `{"static_resources":{"listeners":[{"filter_chains":[{"filters":[{"typed_config":{` +
			`"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","idle_timeout":{"seconds":3}}}]}]}]}}`,
			`{"static_resources":{"listeners":[{"filter_chains":[{"filters":[{"typed_config":{` +
				`"@type":"type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy","idle_timeout":"3.000000000s"}}]}]}]}}`},
		{"struct is not rewritten", `{"node":{"metadata":{"a":{"seconds":1}}}}`, ""},
		{"nothing to do", `{"node":{"id":"x"}}`, ""},
	}
	desc := (&bootstrapv3.Bootstrap{}).ProtoReflect().Descriptor()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := envoyLenient([]byte(tc.in), desc)
			if tc.want == "" {
				if changed || string(got) != tc.in {
					t.Errorf("got %s (changed %v), want the input unchanged", got, changed)
				}
				return
			}
			if !changed || !jsonEqual(t, got, []byte(tc.want)) {
				t.Errorf("got %s (changed %v), want %s", got, changed, tc.want)
			}
		})
	}
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return cmp.Equal(va, vb)
}

// With envoy_prometheus_bind_addr and envoy_stats_bind_addr in the proxy's
// Proxy.Config (and envoy_stats_flush_interval), Consul's bootstrap adds
// static listeners that route /metrics and /stats to the admin listener
// through a self_admin cluster: they load as any static listener.
func TestLoadConsulMetricsBootstrap(t *testing.T) {
	b, err := LoadBootstrap("testdata/consul-1.21-metrics-bootstrap.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range b.Static.Listeners {
		names = append(names, l.Name+"@"+l.Address)
	}
	want := []string{"envoy_prometheus_metrics_listener@127.0.0.1:29102", "envoy_metrics_listener@127.0.0.1:29103"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("static listeners (-want +got):\n%s", diff)
	}
}
