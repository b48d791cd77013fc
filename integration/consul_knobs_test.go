package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/sidecar/config"
)

// knobProxies are the sidecars consulKnobsMesh registers, as (service,
// proxy id) pairs for recordXDS.
var knobProxies = []struct{ service, proxy string }{
	{"kweb", "kweb-sidecar-proxy"}, {"kh2", "kh2-sidecar-proxy"}, {"kgrpc", "kgrpc-sidecar-proxy"},
	{"ktcp", "ktcp-sidecar-proxy"}, {"kcustom", "kcustom-sidecar-proxy"},
}

// consulKnobsMesh registers, beside consulL7Mesh's services, services
// whose proxies set the Proxy.Config keys and service-defaults fields
// Consul users set (issue 12's knobs), so that a recording holds what
// Consul's xDS server makes of each:
//
//   - kweb (http): service-defaults local_connect_timeout_ms,
//     local_request_timeout_ms, max_inbound_connections,
//     balance_inbound_connections = exact_balance; the registration's
//     local_idle_timeout_ms, bind_address, bind_port and the bootstrap keys;
//     upstreams kh2 (http2), kgrpc (grpc) and ktcp (tcp), with
//     connect_timeout_ms and limits from service-defaults UpstreamConfig
//     and an upstream's own config.
//   - kh2 (http2), kgrpc (grpc): protocols, kgrpc with local_idle_timeout_ms.
//   - ktcp (tcp): local_idle_timeout_ms, max_inbound_connections.
//   - kcustom (tcp): the envoy_public_listener_json and
//     envoy_local_cluster_json escape hatches.
func consulKnobsMesh(t *testing.T, a *consulAgent) {
	t.Helper()
	a.setEntry(&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "kweb", Protocol: "http",
		LocalConnectTimeoutMs: 1500, LocalRequestTimeoutMs: 2500, MaxInboundConnections: 7,
		BalanceInboundConnections: "exact_balance",
		UpstreamConfig: &api.UpstreamConfiguration{Defaults: &api.UpstreamConfig{ConnectTimeoutMs: 1200,
			Limits: &api.UpstreamLimits{MaxConnections: intPtr(11), MaxPendingRequests: intPtr(12), MaxConcurrentRequests: intPtr(13)}}}})
	a.setProtocol("kh2", "http2")
	a.setProtocol("kgrpc", "grpc")
	a.setProtocol("ktcp", "tcp")
	a.setProtocol("kcustom", "tcp")
	for _, s := range []string{"kh2", "kgrpc", "ktcp", "kcustom"} {
		a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: s,
			Sources: []*api.SourceIntention{{Name: "kweb", Action: api.IntentionActionAllow}}})
	}
	a.registerKnobs("kweb", map[string]any{
		"local_idle_timeout_ms": 3500,
		"bind_address":          "127.0.0.1", "bind_port": freePort(t),
		"envoy_prometheus_bind_addr": fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"envoy_stats_bind_addr":      fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"envoy_stats_flush_interval": "7s",
	},
		api.Upstream{DestinationName: "kh2", LocalBindPort: freePort(t)},
		api.Upstream{DestinationName: "kgrpc", LocalBindPort: freePort(t), Config: map[string]any{
			"connect_timeout_ms": 900, "limits": map[string]any{"max_connections": 21, "max_pending_requests": 22, "max_concurrent_requests": 23}}},
		api.Upstream{DestinationName: "ktcp", LocalBindPort: freePort(t)})
	a.registerKnobs("kh2", nil)
	a.registerKnobs("kgrpc", map[string]any{"local_idle_timeout_ms": 4500, "local_request_timeout_ms": 5500})
	a.registerKnobs("ktcp", map[string]any{"local_idle_timeout_ms": 6500, "max_inbound_connections": 5,
		"local_connect_timeout_ms": 800})
	a.registerKnobs("kcustom", map[string]any{
		"envoy_public_listener_json": customPublicListener(freePort(t)),
		"envoy_local_cluster_json":   customLocalCluster(freePort(t)),
	})
}

// registerKnobs registers service (one instance, id = service) with a
// sidecar whose Proxy.Config is config.
func (a *consulAgent) registerKnobs(service string, config map[string]any, ups ...api.Upstream) {
	a.t.Helper()
	a.register(&api.AgentServiceRegistration{ID: service, Name: service, Address: "127.0.0.1", Port: freePort(a.t),
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{Port: freePort(a.t),
			Proxy: &api.AgentServiceConnectProxyConfig{Config: config, Upstreams: ups}}}})
}

// customPublicListener is an envoy_public_listener_json: a TCP proxy to
// local_app on port, as Consul's documentation shows it.
func customPublicListener(port int) string {
	return fmt.Sprintf(`{
  "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
  "name": "public_listener:custom",
  "address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}},
  "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
      "stat_prefix": "custom_public", "cluster": "local_app"}}]}]
}`, port)
}

// customLocalCluster is an envoy_local_cluster_json: a static local_app
// cluster on port with its own connect timeout.
func customLocalCluster(port int) string {
	return fmt.Sprintf(`{
  "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  "name": "local_app",
  "type": "STATIC",
  "connect_timeout": "0.75s",
  "load_assignment": {"cluster_name": "local_app", "endpoints": [{"lb_endpoints": [{"endpoint":
    {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}}]}]}
}`, port)
}

func intPtr(n int) *int { return &n }

// consulBootstrap runs `consul connect envoy -bootstrap -sidecar-for
// service` against a (gRPC at grpcAddr) and returns the bootstrap Consul
// writes.
func (a *consulAgent) consulBootstrap(grpcAddr, service string) []byte {
	a.t.Helper()
	cmd := exec.Command(a.bin, "connect", "envoy", "-bootstrap", "-sidecar-for", service,
		"-http-addr", a.addr, "-grpc-addr", grpcAddr, "-admin-bind", fmt.Sprintf("127.0.0.1:%d", freePort(a.t)))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		a.t.Fatalf("consul connect envoy -bootstrap -sidecar-for %s: %v\n%s", service, err, stderr.String())
	}
	return out
}

// TestConsulBootstrapKnobs: the Proxy.Config keys that Consul puts into
// the bootstrap rather than into xDS, recorded from the real agent's
// `consul connect envoy -bootstrap` and loaded as `meshlb --config-path`
// does. Each either works (the check says how) or is refused naming the
// bootstrap field it lands in.
func TestConsulBootstrapKnobs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withGRPC(t, &grpcAddr))
	prom, stats, extra := freePort(t), freePort(t), freePort(t)
	for _, tc := range []struct {
		service string
		config  map[string]any
		wantErr string                              // a refusal naming the field, or ""
		check   func(*testing.T, *config.Bootstrap) // when accepted
	}{
		{service: "bstats", config: map[string]any{
			"envoy_prometheus_bind_addr": fmt.Sprintf("127.0.0.1:%d", prom),
			"envoy_stats_bind_addr":      fmt.Sprintf("127.0.0.1:%d", stats),
			"envoy_stats_flush_interval": "7s",
		}, check: func(t *testing.T, b *config.Bootstrap) {
			var got []string
			for _, l := range b.Static.Listeners {
				got = append(got, l.Name)
			}
			want := []string{"envoy_metrics_listener", "envoy_prometheus_metrics_listener"}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("static listeners (-want +got):\n%s", diff)
			}
		}},
		{service: "bextra", config: map[string]any{"envoy_extra_static_clusters_json": fmt.Sprintf(`{
  "name": "extra_collector", "type": "STATIC", "connect_timeout": "1s",
  "load_assignment": {"cluster_name": "extra_collector", "endpoints": [{"lb_endpoints": [{"endpoint":
    {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}}]}]}}`, extra)},
			check: func(t *testing.T, b *config.Bootstrap) {
				if !slices.ContainsFunc(b.Static.Clusters, func(c config.Cluster) bool { return c.Name == "extra_collector" }) {
					t.Errorf("static clusters lack extra_collector")
				}
			}},
		{service: "bstatsd", config: map[string]any{"envoy_statsd_url": "udp://127.0.0.1:8125"}, wantErr: "stats_sinks"},
		{service: "bdogstatsd", config: map[string]any{"envoy_dogstatsd_url": "udp://127.0.0.1:8125"}, wantErr: "stats_sinks"},
		{service: "btracing", config: map[string]any{"envoy_tracing_json": `{"http": {"name": "envoy.tracers.zipkin",
  "typedConfig": {"@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
    "collector_cluster": "zipkin", "collector_endpoint_version": "HTTP_JSON", "collector_endpoint": "/api/v2/spans"}}}`},
			wantErr: "tracing"},
	} {
		a.registerKnobs(tc.service, tc.config)
		t.Run(tc.service, func(t *testing.T) {
			data := a.consulBootstrap(grpcAddr, tc.service)
			path := filepath.Join(t.TempDir(), "bootstrap.json")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := config.LoadBootstrap(path)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr+": not supported") {
					t.Errorf("loading the bootstrap: err %v, want one naming %s\n%s", err, tc.wantErr, data)
				}
			case err != nil:
				t.Fatalf("loading the bootstrap: %v\n%s", err, data)
			default:
				tc.check(t, b)
			}
		})
	}
}
