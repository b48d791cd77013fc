package config

import (
	"fmt"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/pick_first/v3" // an unsupported policy type
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestDecodeCluster(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Cluster
	}{{
		name: "static with defaults",
		yaml: `
name: be
load_assignment:
  cluster_name: be
  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}}]}]
`,
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be", Endpoints: []Endpoint{{Address: "10.0.0.1:80", Weight: 1}}},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50},
	}, {
		name: "static without endpoints",
		yaml: "{name: empty, type: STATIC, lb_policy: RANDOM, connect_timeout: 0.25s}",
		want: &Cluster{Name: "empty", Type: DiscoveryStatic, LBPolicy: "random", ConnectTimeout: 250 * time.Millisecond,
			Static:         &LoadAssignment{ClusterName: "empty"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50},
	}, {
		name: "ring hash with sizes",
		yaml: "{name: rh, lb_policy: RING_HASH, ring_hash_lb_config: {minimum_ring_size: 64, maximum_ring_size: 4096, hash_function: XX_HASH}}",
		want: &Cluster{Name: "rh", Type: DiscoveryStatic, LBPolicy: "ring_hash", ConnectTimeout: 5 * time.Second,
			Static: &LoadAssignment{ClusterName: "rh"}, RingHash: &RingHash{MinRingSize: 64, MaxRingSize: 4096},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50},
	}, {
		name: "maglev with table size",
		yaml: "{name: mg, lb_policy: MAGLEV, maglev_lb_config: {table_size: 251}}",
		want: &Cluster{Name: "mg", Type: DiscoveryStatic, LBPolicy: "maglev", ConnectTimeout: 5 * time.Second,
			Static: &LoadAssignment{ClusterName: "mg"}, MaglevTableSize: 251,
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50},
	}, {
		name: "eds with service name and circuit breakers",
		yaml: `
name: api
alt_stat_name: api_stats
type: EDS
lb_policy: LEAST_REQUEST
eds_cluster_config: {service_name: api-v2, eds_config: {ads: {}}}
circuit_breakers:
  thresholds:
  - {max_connections: 10, max_requests: 20, track_remaining: true}
  - {priority: HIGH, max_connections: 1, max_pending_requests: 1, max_requests: 1, max_retries: 1}
metadata: {filter_metadata: {meshlb: {team: a}}}
`,
		want: &Cluster{Name: "api", Type: DiscoveryEDS, LBPolicy: "least_request", ConnectTimeout: 5 * time.Second,
			EDSName: "api-v2", MaxConnections: 10, MaxPendingRequests: 1024, MaxRequests: 20, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50},
	}, {
		name: "eds named after the cluster",
		yaml: `{name: api, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}, circuit_breakers: {thresholds: [{max_pending_requests: 0, max_retries: 0}]}}`,
		want: &Cluster{Name: "api", Type: DiscoveryEDS, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			EDSName: "api", MaxConnections: 1024, MaxPendingRequests: -1, MaxRequests: 1024, MaxRetries: -1, IdleTimeout: time.Hour, PanicThreshold: 50},
	}, {
		name: "retry budget with Envoy's defaults",
		yaml: `{name: api, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}, circuit_breakers: {thresholds: [{retry_budget: {}}, {priority: HIGH, retry_budget: {budget_percent: {value: 1}}}]}}`,
		want: &Cluster{Name: "api", Type: DiscoveryEDS, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			EDSName: "api", MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50,
			RetryBudget: &RetryBudget{Percent: 20, MinConcurrency: 3}},
	}, {
		name: "retry budget",
		yaml: `{name: api, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}, circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: 12.5}, min_retry_concurrency: 0}}]}}`,
		want: &Cluster{Name: "api", Type: DiscoveryEDS, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			EDSName: "api", MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour, PanicThreshold: 50,
			RetryBudget: &RetryBudget{Percent: 12.5}},
	}, {
		name: "idle timeout in common_http_protocol_options",
		yaml: "{name: be, common_http_protocol_options: {idle_timeout: 30s}}",
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: 30 * time.Second, PanicThreshold: 50},
	}, {
		name: "idle timeout in HttpProtocolOptions",
		yaml: `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http_protocol_options: {}}, common_http_protocol_options: {idle_timeout: 0s}}}}`,
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, PanicThreshold: 50},
	}, {
		name: "least request options and slow start",
		yaml: "{name: be, lb_policy: LEAST_REQUEST, least_request_lb_config: {choice_count: 3, active_request_bias: {default_value: 0, runtime_key: k}, slow_start_config: {slow_start_window: 30s, min_weight_percent: {value: 20}}}}",
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "least_request",
			LeastRequest: &LeastRequest{ChoiceCount: 3, BiasSet: true},
			SlowStart:    &SlowStart{Window: 30 * time.Second, Aggression: 1, MinWeightPercent: 20}}),
	}, {
		name: "round robin slow start",
		yaml: "{name: be, round_robin_lb_config: {slow_start_config: {slow_start_window: 10s, aggression: {default_value: 2, runtime_key: k}}}}",
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "round_robin",
			SlowStart: &SlowStart{Window: 10 * time.Second, Aggression: 2, MinWeightPercent: 10}}),
	}, {
		name: "load_balancing_policy skips unknown types",
		yaml: `{name: be, lb_policy: LOAD_BALANCING_POLICY_CONFIG, load_balancing_policy: {policies: [
			{typed_extension_config: {name: x, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.pick_first.v3.PickFirst}}},
			{typed_extension_config: {name: lr, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest, choice_count: 4}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "least_request", LeastRequest: &LeastRequest{ChoiceCount: 4}}),
	}, {
		name: "load_balancing_policy ring hash",
		yaml: `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: rh, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash, minimum_ring_size: 2048}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "ring_hash", RingHash: &RingHash{MinRingSize: 2048}}),
	}, {
		name: "load_balancing_policy maglev",
		yaml: `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: m, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev, table_size: 65537}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "maglev", MaglevTableSize: 65537}),
	}, {
		name: "load_balancing_policy random and round robin",
		yaml: `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: r, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random}}}, {typed_extension_config: {name: rr, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "random"}),
	}, {
		name: "load_balancing_policy peak ewma",
		yaml: `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: p, typed_config: {"@type": type.googleapis.com/xds.type.v3.TypedStruct, type_url: type.googleapis.com/meshlb.load_balancing_policies.peak_ewma.v1.PeakEwma, value: {decay_time: 5s, default_rtt: 0.05s}}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "peak_ewma", PeakEWMA: &PeakEWMA{DecayTime: 5 * time.Second, DefaultRTT: 50 * time.Millisecond}}),
	}, {
		name: "panic threshold {} as Consul sends disables panic mode",
		yaml: "{name: be, common_lb_config: {healthy_panic_threshold: {}}}",
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour},
	}, {
		name: "panic threshold and locality weighting",
		yaml: "{name: be, common_lb_config: {healthy_panic_threshold: {value: 25.5}, locality_weighted_lb_config: {}}}",
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour,
			PanicThreshold: 25.5, LocalityWeighted: true},
	}, {
		name: "zone aware defaults",
		yaml: "{name: be, common_lb_config: {zone_aware_lb_config: {}}}",
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "round_robin", ZoneAware: &ZoneAware{RoutingEnabled: 100, MinClusterSize: 6}}),
	}, {
		name: "typed round robin with zone aware locality_lb_config",
		yaml: `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: rr, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin, locality_lb_config: {zone_aware_lb_config: {min_cluster_size: 2}}}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "round_robin", ZoneAware: &ZoneAware{RoutingEnabled: 100, MinClusterSize: 2}}),
	}, {
		name: "typed random with locality weighting",
		yaml: `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: r, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random, locality_lb_config: {locality_weighted_lb_config: {}}}}}]}}`,
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "random", LocalityWeighted: true}),
	}, {
		name: "zone aware set",
		yaml: "{name: be, lb_policy: LEAST_REQUEST, common_lb_config: {zone_aware_lb_config: {routing_enabled: {value: 49.6}, min_cluster_size: 3, fail_traffic_on_panic: true}}}",
		want: withDefaults(&Cluster{Name: "be", LBPolicy: "least_request",
			ZoneAware: &ZoneAware{RoutingEnabled: 50, MinClusterSize: 3, FailTrafficOnPanic: true}}),
	}, {
		name: "explicit http2 with limits",
		yaml: `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {max_concurrent_streams: 7}}, common_http_protocol_options: {idle_timeout: 2s, max_requests_per_connection: 100}}}}`,
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: 2 * time.Second,
			PanicThreshold: 50, HTTP: spec.UpstreamHTTP{Protocol: spec.UpstreamHTTP2, MaxConcurrentStreams: 7, MaxRequestsPerConnection: 100}},
	}, {
		name: "legacy http2_protocol_options",
		yaml: "{name: be, http2_protocol_options: {max_concurrent_streams: 3}, common_http_protocol_options: {max_requests_per_connection: 9}}",
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour,
			PanicThreshold: 50, HTTP: spec.UpstreamHTTP{Protocol: spec.UpstreamHTTP2, MaxConcurrentStreams: 3, MaxRequestsPerConnection: 9}},
	}, {
		name: "use downstream protocol",
		yaml: `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, use_downstream_protocol_config: {http2_protocol_options: {max_concurrent_streams: 50}}}}}`,
		want: &Cluster{Name: "be", Type: DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: 5 * time.Second,
			Static:         &LoadAssignment{ClusterName: "be"},
			MaxConnections: 1024, MaxPendingRequests: 1024, MaxRequests: 1024, MaxRetries: 3, IdleTimeout: time.Hour,
			PanicThreshold: 50, HTTP: spec.UpstreamHTTP{Protocol: spec.UpstreamDownstream, MaxConcurrentStreams: 50}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCluster(fromYAML(t, tt.yaml, &clusterv3.Cluster{}))
			if err != nil {
				t.Fatalf("DecodeCluster: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeCluster mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeClusterErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"maglev not prime", "{name: be, lb_policy: MAGLEV, maglev_lb_config: {table_size: 100}}", `cluster "be": maglev_lb_config.table_size: 100 is not a prime of at most 5000011`},
		{"maglev config without maglev", "{name: be, maglev_lb_config: {}}", `cluster "be": maglev_lb_config: only allowed with lb_policy MAGLEV`},
		{"ring config without ring hash", "{name: be, ring_hash_lb_config: {}}", `cluster "be": ring_hash_lb_config: only allowed with lb_policy RING_HASH`},
		{"murmur", "{name: be, lb_policy: RING_HASH, ring_hash_lb_config: {hash_function: MURMUR_HASH_2}}", `cluster "be": ring_hash_lb_config.hash_function: MURMUR_HASH_2 is not supported`},
		{"ring min over max", "{name: be, lb_policy: RING_HASH, ring_hash_lb_config: {minimum_ring_size: 2048, maximum_ring_size: 1024}}", `cluster "be": ring_hash_lb_config.minimum_ring_size: 2048 is above maximum_ring_size 1024`},
		{"ring over 8M", "{name: be, lb_policy: RING_HASH, ring_hash_lb_config: {maximum_ring_size: 9000000}}", `maximum_ring_size`},
		{"locality weighted ring hash", "{name: be, lb_policy: RING_HASH, common_lb_config: {locality_weighted_lb_config: {}}}",
			`cluster "be": common_lb_config.locality_weighted_lb_config: not supported with lb_policy ring_hash`},
		{"least request config without least request", "{name: be, least_request_lb_config: {}}", `cluster "be": least_request_lb_config: only allowed with lb_policy LEAST_REQUEST`},
		{"slow start aggression 0", "{name: be, round_robin_lb_config: {slow_start_config: {slow_start_window: 1s, aggression: {default_value: 0, runtime_key: k}}}}",
			`cluster "be": round_robin_lb_config.slow_start_config.aggression.default_value: must be above 0`},
		{"typed policy with lb_policy", `{name: be, lb_policy: RING_HASH, load_balancing_policy: {policies: [{typed_extension_config: {name: r, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random}}}]}}`,
			`cluster "be": lb_policy: RING_HASH is not allowed with load_balancing_policy`},
		{"typed policy unsupported field", `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: r, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin, locality_lb_config: {zone_aware_lb_config: {force_locality_direct_routing: true}}}}}]}}`,
			`cluster "be": load_balancing_policy.policies[0].typed_extension_config.typed_config.locality_lb_config.zone_aware_lb_config.force_locality_direct_routing: not supported`},
		{"typed policy none supported", `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: x, typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.pick_first.v3.PickFirst}}}]}}`,
			`cluster "be": load_balancing_policy.policies: none is supported`},
		{"peak ewma unknown key", `{name: be, load_balancing_policy: {policies: [{typed_extension_config: {name: p, typed_config: {"@type": type.googleapis.com/xds.type.v3.TypedStruct, type_url: type.googleapis.com/meshlb.load_balancing_policies.peak_ewma.v1.PeakEwma, value: {penalty: 5s}}}}]}}`,
			`cluster "be": load_balancing_policy.policies[0].typed_extension_config.typed_config.value.penalty: not supported`},
		{"strict dns", "{name: be, type: STRICT_DNS}", `cluster "be": type: STRICT_DNS is not supported`},
		{"original dst", "{name: be, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED}", `cluster "be": lb_policy: CLUSTER_PROVIDED is not supported`},
		{"outlier failure percentage", "{name: be, outlier_detection: {failure_percentage_threshold: 50}}", `cluster "be": outlier_detection.failure_percentage_threshold: not supported`},
		{"transport socket without a configuration", "{name: be, transport_socket: {name: tls}}", `cluster "be": transport_socket.typed_config: required`},
		{"transport_socket_matches", "{name: be, transport_socket_matches: [{name: m}]}", `cluster "be": transport_socket_matches: not supported`},
		{"http2 window", `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {initial_stream_window_size: 65536}}}}}`,
			`cluster "be": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.initial_stream_window_size: not supported`},
		{"http2 zero streams", `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {max_concurrent_streams: 0}}}}}`,
			`cluster "be": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.max_concurrent_streams: value must be inside range [1, 2147483647]`},
		{"auto config", `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, auto_config: {}}}}`, `cluster "be": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].auto_config: needs a TLS transport_socket: the protocol is chosen by ALPN`},
		{"auto config http3", `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, auto_config: {http3_protocol_options: {}}}}}`, `cluster "be": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].auto_config.http3_protocol_options: not supported`},
		{"http1 options", `{name: be, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http_protocol_options: {accept_http_10: true}}}}}`,
			`cluster "be": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http_protocol_options.accept_http_10: not supported`},
		{"max requests per connection on http1", "{name: be, common_http_protocol_options: {max_requests_per_connection: 5}}",
			`cluster "be": common_http_protocol_options.max_requests_per_connection: only supported with HTTP/2 upstreams`},
		{"http2 twice", `{name: be, http2_protocol_options: {}, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {}}}}}`,
			`cluster "be": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]: also set in http2_protocol_options`},
		{"legacy http2 window", "{name: be, http2_protocol_options: {initial_connection_window_size: 65536}}",
			`cluster "be": http2_protocol_options.initial_connection_window_size: not supported`},
		{"other protocol options", `{name: be, typed_extension_protocol_options: {x: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions}}}`,
			`cluster "be": typed_extension_protocol_options["x"]: only envoy.extensions.upstreams.http.v3.HttpProtocolOptions is supported`},
		{"max connection duration", "{name: be, common_http_protocol_options: {max_connection_duration: 1s}}",
			`cluster "be": common_http_protocol_options.max_connection_duration: not supported`},
		{"idle timeout twice", `{name: be, common_http_protocol_options: {idle_timeout: 1s}, typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http_protocol_options: {}}, common_http_protocol_options: {idle_timeout: 2s}}}}`,
			`also set in common_http_protocol_options`},
		{"max requests per connection", "{name: be, max_requests_per_connection: 1}", `cluster "be": max_requests_per_connection: not supported`},
		{"eds without config", "{name: be, type: EDS}", `cluster "be": eds_cluster_config: required in EDS clusters`},
		{"eds with load assignment", "{name: be, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}, load_assignment: {cluster_name: be}}", `cluster "be": load_assignment: not allowed in EDS clusters`},
		{"static with eds config", "{name: be, eds_cluster_config: {eds_config: {ads: {}}}}", `cluster "be": eds_cluster_config: only allowed in EDS clusters`},
		{"static endpoint host name", "{name: be, load_assignment: {cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: db, port_value: 5432}}}}]}]}}",
			`cluster "be": load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: "db" is not an IP address`},
		{"duplicate thresholds", "{name: be, circuit_breakers: {thresholds: [{max_connections: 1}, {max_connections: 2}]}}", `cluster "be": circuit_breakers.thresholds[1].priority: DEFAULT is listed twice`},
		{"retry budget interval", "{name: be, circuit_breakers: {thresholds: [{retry_budget: {budget_interval: 1s}}]}}", `cluster "be": circuit_breakers.thresholds[0].retry_budget.budget_interval: not supported`},
		{"high retry budget interval", "{name: be, circuit_breakers: {thresholds: [{priority: HIGH, retry_budget: {budget_interval: 1s}}]}}", `cluster "be": circuit_breakers.thresholds[0].retry_budget.budget_interval: not supported`},
		{"per host thresholds", "{name: be, circuit_breakers: {per_host_thresholds: [{max_connections: 1}]}}", `cluster "be": circuit_breakers.per_host_thresholds: not supported`},
		{"validation: zero connect timeout", "{name: be, connect_timeout: 0s}", `cluster "be": connect_timeout: value must be greater than 0s`},
		{"no name", "{lb_policy: RANDOM}", `cluster "": name: value length must be at least 1 runes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCluster(fromYAML(t, tt.yaml, &clusterv3.Cluster{}))
			if got != nil {
				t.Errorf("DecodeCluster returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}

// withDefaults fills c, a STATIC cluster without endpoints, with what the
// decoder defaults.
func withDefaults(c *Cluster) *Cluster {
	c.Type, c.ConnectTimeout, c.Static = DiscoveryStatic, 5*time.Second, &LoadAssignment{ClusterName: c.Name}
	c.MaxConnections, c.MaxPendingRequests, c.MaxRequests, c.MaxRetries = 1024, 1024, 1024, 3
	c.IdleTimeout, c.PanicThreshold = time.Hour, 50
	return c
}

// TestDecodeAutoConfig: auto_config over TLS chooses the protocol by ALPN
// (spec.UpstreamAuto), offering h2 and http/1.1 when the TLS context
// lists none (Envoy's fallback ALPN) and the context's list otherwise.
func TestDecodeAutoConfig(t *testing.T) {
	const opts = `typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, auto_config: {http2_protocol_options: {max_concurrent_streams: 9}}}}`
	const tls = `transport_socket: {name: tls, typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, common_tls_context: {%s}}}`
	tests := []struct {
		name, alpn string
		want       []string
	}{
		{"fallback ALPN", "", []string{"h2", "http/1.1"}},
		{"configured ALPN", "alpn_protocols: [h2]", []string{"h2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "{name: be, " + opts + ", " + fmt.Sprintf(tls, tt.alpn) + "}"
			got, err := DecodeCluster(fromYAML(t, yaml, &clusterv3.Cluster{}))
			if err != nil {
				t.Fatalf("DecodeCluster: %v", err)
			}
			if diff := cmp.Diff(spec.UpstreamHTTP{Protocol: spec.UpstreamAuto, MaxConcurrentStreams: 9}, got.HTTP); diff != "" {
				t.Errorf("HTTP (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got.TLS.ALPN); diff != "" {
				t.Errorf("ALPN (-want +got):\n%s", diff)
			}
		})
	}
}
