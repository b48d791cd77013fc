package config

import (
	"strings"
	"testing"
)

// lines joins YAML lines, so that tests can count them.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestParseBootstrapErrors(t *testing.T) {
	const cluster = "static_resources:\n  clusters:\n  - name: be\n"
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "f.yaml: empty bootstrap"},
		{"yaml syntax", "node: {id: x\n", "f.yaml:1: did not find expected ',' or '}'"},
		{"unsupported top-level field", lines("node: {id: x}", "watchdogs: {}"), "f.yaml:2: watchdogs: not supported"},
		{"cluster_manager field", lines("node: {id: x}", "cluster_manager: {local_cluster_name: web, outlier_detection: {event_log_path: /tmp/x}}"),
			"f.yaml:2: cluster_manager.outlier_detection: not supported"},
		{"misspelled field", lines("node:", "  id: x", "static_resource: {}"), `f.yaml:3: static_resource: unknown field "static_resource"`},
		{"misspelled nested field", cluster + "    conect_timeout: 1s\n", `f.yaml:4: static_resources.clusters[0].conect_timeout: unknown field "conect_timeout"`},
		{"bad enum", cluster + "    lb_policy: ROUND_ROBBIN\n", `f.yaml:4: static_resources.clusters[0].lb_policy: invalid value for enum field lbPolicy: "ROUND_ROBBIN"`},
		{"bad duration", cluster + "    connect_timeout: soon\n", `f.yaml:4: static_resources.clusters[0].connect_timeout: invalid google.protobuf.Duration value "soon"`},
		{"unsupported policy", cluster + "    connect_timeout: 1s\n    lb_policy: CLUSTER_PROVIDED\n",
			`f.yaml:5: static_resources.clusters[0]: cluster "be": lb_policy: CLUSTER_PROVIDED is not supported`},
		{"unregistered filter", lines(
			"static_resources:",
			"  listeners:",
			"  - name: r",
			"    address: {socket_address: {address: 127.0.0.1, port_value: 6379}}",
			"    filter_chains:",
			"    - filters:",
			"      - name: redis",
			"        typed_config:",
			"          \"@type\": type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy",
			"          stat_prefix: r"),
			`f.yaml:9: static_resources.listeners[0].filter_chains[0].filters[0].typed_config: unsupported type "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy"`},
		{"listener error names listener and line", lines(
			"static_resources:",
			"  listeners:",
			"  - name: t",
			"    address: {socket_address: {address: 127.0.0.1, port_value: 1}}",
			"    filter_chains:",
			"    - filters:",
			"      - name: tcp",
			"        typed_config:",
			"          \"@type\": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
			"          stat_prefix: t",
			"          cluster: be",
			"          max_connect_attempts: 2"),
			`f.yaml:12: static_resources.listeners[0]: listener "t": filter_chains[0].filters[0].typed_config.max_connect_attempts: not supported`},
		{"duplicate cluster", cluster + "  - name: be\n", `f.yaml:4: static_resources.clusters[1].name: duplicate cluster name "be"`},
		{"admin access log not a file", lines("admin:", "  access_log:",
			"  - name: router", "    typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}"),
			"f.yaml:4: admin.access_log[0].typed_config: only type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog is supported"},
		{"admin access log format", lines("admin:", "  access_log:",
			"  - name: file", "    typed_config: {\"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: /dev/null, json_format: {a: b}}"),
			"f.yaml:4: admin.access_log[0].typed_config.json_format: not supported"},
		{"tag without a default", lines("stats_config:", "  stats_tags: [{tag_name: my.tag}]"),
			"f.yaml:2: stats_config.stats_tags[0]: tag my.tag: no regex and no default regex of that name"},
		{"stats matcher", lines("stats_config:", "  stats_matcher: {reject_all: true}"), "f.yaml:2: stats_config.stats_matcher: not supported"},
		{"stats tag regex", lines("stats_config:", "  stats_tags: [{tag_name: a, regex: \"(\"}]"),
			"f.yaml:2: stats_config.stats_tags[0].regex: error parsing regexp: missing closing ): `(`"},
		{"disk runtime layer", lines("layered_runtime:", "  layers: [{name: d, disk_layer: {symlink_root: /x}}]"),
			"f.yaml:2: layered_runtime.layers[0].disk_layer: not supported"},
		{"list in a runtime layer", lines("layered_runtime:", "  layers: [{name: s, static_layer: {a: [1]}}]"),
			"f.yaml:2: layered_runtime.layers[0].static_layer.a: a list is not a runtime value"},
		{"admin host name", lines("admin:", "  address: {socket_address: {address: localhost, port_value: 9901}}"),
			`f.yaml:2: admin.address.socket_address.address: "localhost" is not an IP address`},
		{"secrets", lines("static_resources:", "  secrets: [{name: s}]"), "f.yaml:2: static_resources.secrets: not supported"},
		{"lds without ads", lines("dynamic_resources:", "  lds_config: {ads: {}}"),
			"f.yaml:1: dynamic_resources.ads_config: required: lds_config and cds_config are only supported over ADS"},
		{"ads cluster missing", lines("dynamic_resources:", "  ads_config:", "    api_type: GRPC", "    grpc_services:", "    - envoy_grpc: {cluster_name: xds}"),
			`f.yaml:5: dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: no static cluster named "xds"`},
		{"ads cluster without endpoints", cluster + lines("dynamic_resources:", "  ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: be}}]}"),
			`f.yaml:5: dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: cluster "be" has no endpoints`},
		{"ads cluster of type EDS", cluster + lines("    type: EDS", "    eds_cluster_config: {eds_config: {ads: {}}}",
			"dynamic_resources:", "  ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: be}}]}"),
			`f.yaml:7: dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: cluster "be" must be of type STATIC`},
		{"rest api", lines("dynamic_resources:", "  ads_config:", "    api_type: REST"), "f.yaml:3: dynamic_resources.ads_config.api_type: REST is not supported"},
		{"google grpc", lines("dynamic_resources:", "  ads_config:", "    api_type: GRPC", "    grpc_services:", "    - google_grpc: {target_uri: x, stat_prefix: x}"),
			"f.yaml:5: dynamic_resources.ads_config.grpc_services[0].google_grpc: not supported"},
		{"two grpc services", lines("dynamic_resources:", "  ads_config:", "    api_type: GRPC", "    grpc_services: [{envoy_grpc: {cluster_name: a}}, {envoy_grpc: {cluster_name: b}}]"),
			"f.yaml:4: dynamic_resources.ads_config.grpc_services: exactly one gRPC service is supported, got 2"},
		{"lds from a file", lines("dynamic_resources:", "  lds_config:", "    path_config_source: {path: /etc/lds.yaml}"),
			"f.yaml:3: dynamic_resources.lds_config.path_config_source: not supported"},
		{"validation: empty ads cluster name", lines("dynamic_resources:", "  ads_config:", "    api_type: GRPC", "    grpc_services:", "    - envoy_grpc: {cluster_name: ''}"),
			"f.yaml:5: dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: value length must be at least 1 runes"},
		{"ads cluster with http1", strings.Replace(adsBootstrap, "http2_protocol_options", "http_protocol_options", 1),
			`f.yaml:18: static_resources.clusters[0]: cluster "xds": typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http_protocol_options: not supported`},
		{"yaml 1.1 boolean", lines("node:", "  id: n"),
			"f.yaml:2: node.id: invalid value for string field id: false (quote the value: YAML reads it as a boolean or number)"},
		{"overload actions", lines("overload_manager:", "  resource_monitors: [{name: x}]", "  actions: [{name: envoy.overload_actions.stop_accepting_requests, triggers: [{name: x, threshold: {value: 0.9}}]}]"),
			"f.yaml:3: overload_manager.actions: not supported"},
		{"other resource monitor", lines("overload_manager:", "  resource_monitors:", "  - name: envoy.resource_monitors.fixed_heap",
			"    typed_config: {\"@type\": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig, max_active_downstream_connections: 1}"),
			"overload_manager.resource_monitors[0]: only envoy.resource_monitors.global_downstream_max_connections"},
		{"json unknown field", "{\"node\": {\"id\": \"x\"},\n \"nodes\": 1}", `f.yaml:2: nodes: unknown field "nodes"`},
		{"json decode error", "{\"static_resources\": {\"clusters\": [\n {\"name\": \"a\", \"lb_policy\": \"CLUSTER_PROVIDED\"}]}}",
			`f.yaml:2: static_resources.clusters[0]: cluster "a": lb_policy: CLUSTER_PROVIDED is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBootstrap("f.yaml", []byte(tt.data))
			if got != nil {
				t.Errorf("ParseBootstrap returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}
