package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const benchBootstrap = "../../../shared/bench/envoy-bootstrap.yaml"

// ignoreDump leaves Set.Dump, checked on its own, out of comparisons.
var ignoreDump = cmp.Options{cmpopts.IgnoreFields(Set{}, "Dump"), cmpopts.EquateEmpty()}

func TestLoadBenchBootstrap(t *testing.T) {
	if _, err := os.Stat(benchBootstrap); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent", benchBootstrap)
	}
	got, err := LoadBootstrap(benchBootstrap)
	if err != nil {
		t.Fatalf("LoadBootstrap: %v", err)
	}
	routes := &RouteConfig{Name: "local", VirtualHosts: []VirtualHost{{Name: "all", Domains: []string{"*"},
		Routes: []Route{{Match: prefixRoot, Action: toBE}}}}}
	want := &Bootstrap{NodeID: "bench", NodeCluster: "bench", AdminAddress: "127.0.0.1:18100", Static: Set{
		Listeners: []Listener{
			{Name: "http", Address: "127.0.0.1:18098", FilterChains: []FilterChain{{HTTP: &HTTPManager{StatPrefix: "http", Routes: routes, StreamIdleTimeout: 5 * time.Minute, GenerateRequestID: true,
				RequestHeadersTimeout: defaultRequestHeadersTimeout}}}},
			{Name: "tcp", Address: "127.0.0.1:18099", FilterChains: []FilterChain{{TCP: &TCPProxy{StatPrefix: "tcp", Cluster: "be", IdleTimeout: time.Hour}}}},
		},
		Clusters: []Cluster{{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static: &LoadAssignment{ClusterName: "be", Endpoints: []Endpoint{
				{Address: "127.0.0.1:18081", Weight: 1}, {Address: "127.0.0.1:18082", Weight: 1}}},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50}},
	}}
	if diff := cmp.Diff(want, got, ignoreDump); diff != "" {
		t.Errorf("LoadBootstrap mismatch (-want +got):\n%s", diff)
	}
	d := parseDump(t, got.Static.Dump)
	if n := len(d.listeners.GetStaticListeners()); n != 2 {
		t.Errorf("dump has %d static listeners, want 2", n)
	}
	if n := len(d.clusters.GetStaticClusters()); n != 1 {
		t.Errorf("dump has %d static clusters, want 1", n)
	}
}

const adsBootstrap = `node: {id: sidecar-1, cluster: web, metadata: {zone: a}}
admin: {address: {socket_address: {address: "::", port_value: 0}}}
dynamic_resources:
  ads_config:
    api_type: DELTA_GRPC
    transport_api_version: V3
    grpc_services: [{envoy_grpc: {cluster_name: xds}}]
    set_node_on_first_message_only: true
  lds_config: {ads: {}, resource_api_version: V3}
  cds_config: {ads: {}, resource_api_version: V3, initial_fetch_timeout: 5s}
static_resources:
  clusters:
  - name: xds
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {}}
    load_assignment:
      cluster_name: xds
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 10.0.0.10, port_value: 18000}}}
        - endpoint: {address: {socket_address: {address: 10.0.0.11, port_value: 18000}}}
`

func TestParseBootstrap(t *testing.T) {
	xds := Cluster{Name: "xds", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: time.Second,
		Static: &LoadAssignment{ClusterName: "xds", Endpoints: []Endpoint{
			{Address: "10.0.0.10:18000", Weight: 1}, {Address: "10.0.0.11:18000", Weight: 1}}},
		MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50}
	tests := []struct {
		name string
		data string
		want *Bootstrap
	}{{
		name: "ads in yaml",
		data: adsBootstrap,
		want: &Bootstrap{NodeID: "sidecar-1", NodeCluster: "web", AdminAddress: "[::]:0",
			Static: Set{Clusters: []Cluster{xds}},
			ADS:    &ADS{Delta: true, Cluster: "xds", Targets: []string{"10.0.0.10:18000", "10.0.0.11:18000"}, LDS: true, CDS: true}},
	}, {
		name: "ads in json with camelCase names and http2_protocol_options",
		data: `{"node": {"id": "n"},
 "dynamicResources": {"adsConfig": {"apiType": "GRPC", "grpcServices": [{"envoyGrpc": {"clusterName": "xds"}}]}, "cdsConfig": {"ads": {}}},
 "staticResources": {"clusters": [{"name": "xds", "connectTimeout": "1s", "http2ProtocolOptions": {},
   "loadAssignment": {"clusterName": "xds", "endpoints": [{"lbEndpoints": [
     {"endpoint": {"address": {"socketAddress": {"address": "10.0.0.10", "portValue": 18000}}}},
     {"endpoint": {"address": {"socketAddress": {"address": "10.0.0.11", "portValue": 18000}}}}]}]}}]}}`,
		want: &Bootstrap{NodeID: "n", Static: Set{Clusters: []Cluster{xds}},
			ADS: &ADS{Cluster: "xds", Targets: []string{"10.0.0.10:18000", "10.0.0.11:18000"}, CDS: true}},
	}, {
		name: "node only",
		data: "node: {id: node-1}\n",
		want: &Bootstrap{NodeID: "node-1"},
	}, {
		name: "node locality and local cluster for zone-aware routing",
		data: "node: {id: node-z, locality: {region: r1, zone: za}}\ncluster_manager: {local_cluster_name: web}\n",
		want: &Bootstrap{NodeID: "node-z", Locality: "r1/za/", LocalCluster: "web"},
	}, {
		name: "global downstream connection limit",
		data: `node: {id: "n"}
overload_manager:
  refresh_interval: 0.25s
  resource_monitors:
  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 5000
`,
		want: &Bootstrap{NodeID: "n", MaxDownstreamConnections: 5000},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBootstrap("envoy.yaml", []byte(tt.data))
			if err != nil {
				t.Fatalf("ParseBootstrap: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreDump); diff != "" {
				t.Errorf("ParseBootstrap mismatch (-want +got):\n%s", diff)
			}
			if !json.Valid(got.Static.Dump) {
				t.Errorf("Static.Dump is not JSON: %s", got.Static.Dump)
			}
		})
	}
}

func TestLoadBootstrapMissing(t *testing.T) {
	_, err := LoadBootstrap(t.TempDir() + "/nope.yaml")
	wantError(t, err, "loading bootstrap: open ", "nope.yaml")
}

// FuzzParseBootstrap checks that ParseBootstrap never panics and returns
// either a bootstrap or an error.
func FuzzParseBootstrap(f *testing.F) {
	if data, err := os.ReadFile(benchBootstrap); err == nil {
		f.Add(data)
	}
	f.Add([]byte(adsBootstrap))
	f.Add([]byte(`{"node": {"id": "x"}, "staticResources": {"clusters": [{"name": "a", "lbPolicy": "MAGLEV"}]}}`))
	f.Add([]byte("static_resources:\n  listeners:\n  - name: a\n    address: {socket_address: {address: '::1', port_value: 1}}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBootstrap("fuzz.yaml", data)
		if (b == nil) == (err == nil) {
			t.Fatalf("ParseBootstrap returned %v and %v", b, err)
		}
	})
}
