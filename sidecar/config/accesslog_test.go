package config

import (
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// tcpLogListener is a TCP proxy whose access_log list each case supplies.
const tcpLogListener = tcpListener + "      cluster: be\n      access_log:\n"

const (
	tcpGRPCLog = `"@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig`
	fileLog    = `"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog`
	stdoutLog  = `"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`
	stderrLog  = `"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog`
)

// decodeTCPLogs decodes a TCP listener with the access_log entries given
// (YAML list items) and returns its access logs.
func decodeTCPLogs(t *testing.T, items string) ([]spec.AccessLog, error) {
	t.Helper()
	l := fromYAML(t, tcpLogListener+items, &listenerv3.Listener{})
	got, err := DecodeListener(l)
	if err != nil {
		return nil, err
	}
	return got.FilterChains[0].TCP.AccessLogs, nil
}

func TestDecodeAccessLogs(t *testing.T) {
	tests := []struct {
		name  string
		items string
		want  []spec.AccessLog
	}{{
		name:  "file with the default format",
		items: "      - {name: f, typed_config: {" + fileLog + ", path: /var/log/a.log}}\n",
		want:  []spec.AccessLog{{Path: "/var/log/a.log"}},
	}, {
		name: "stdout and stderr, text formats",
		items: "      - {name: o, typed_config: {" + stdoutLog + ", log_format: {text_format: \"%PROTOCOL%\\n\"}}}\n" +
			"      - {name: e, typed_config: {" + stderrLog + ", log_format: {text_format_source: {inline_string: \"%DURATION%\"}, omit_empty_values: true, content_type: text/plain}}}\n",
		want: []spec.AccessLog{{Path: "/dev/stdout", Format: "%PROTOCOL%\n"}, {Path: "/dev/stderr", Format: "%DURATION%", OmitEmpty: true}},
	}, {
		name: "json with typed values and a nested object",
		items: "      - {name: j, typed_config: {" + fileLog + ", path: /l, log_format: {json_format: " +
			"{code: \"%RESPONSE_CODE%\", num: 3, b: true, z: null, up: {host: \"%UPSTREAM_HOST%\"}}}}}\n",
		want: []spec.AccessLog{{Path: "/l", JSON: &spec.JSONFormat{Fields: []spec.JSONField{
			{Key: "b", Const: "true"}, {Key: "code", IsFormat: true, Format: "%RESPONSE_CODE%"}, {Key: "num", Const: "3"},
			{Key: "up", Object: &spec.JSONFormat{Fields: []spec.JSONField{{Key: "host", IsFormat: true, Format: "%UPSTREAM_HOST%"}}}},
			{Key: "z", Const: "null"}}}}},
	}, {
		name: "tcp_grpc",
		items: "      - {name: g, typed_config: {" + tcpGRPCLog + ", common_config: {log_name: mesh, transport_api_version: V3, " +
			"buffer_flush_interval: 0.5s, buffer_size_bytes: 1024, grpc_service: {envoy_grpc: {cluster_name: als}}}}}\n",
		want: []spec.AccessLog{{TCP: true, GRPC: &spec.GRPCAccessLog{LogName: "mesh", Cluster: "als", FlushInterval: 500 * time.Millisecond, BufferSize: 1024}}},
	}, {
		name: "filters",
		items: "      - name: f\n        typed_config: {" + fileLog + ", path: /l}\n        filter:\n          and_filter:\n            filters:\n" +
			"            - status_code_filter: {comparison: {op: GE, value: {default_value: 500, runtime_key: k}}}\n" +
			"            - duration_filter: {comparison: {value: {default_value: 10, runtime_key: k}}}\n" +
			"            - or_filter: {filters: [{not_health_check_filter: {}}, {traceable_filter: {}}]}\n" +
			"            - runtime_filter: {runtime_key: k, percent_sampled: {numerator: 5, denominator: TEN_THOUSAND}}\n" +
			"            - header_filter: {header: {name: X-Env, exact_match: prod}}\n" +
			"            - response_flag_filter: {flags: [UF, URX]}\n" +
			"            - grpc_status_filter: {statuses: [UNAVAILABLE, OK], exclude: true}\n" +
			"            - runtime_filter: {runtime_key: k}\n",
		want: []spec.AccessLog{{Path: "/l", Filter: &spec.AccessLogFilter{Kind: spec.AndFilter, Children: []spec.AccessLogFilter{
			{Kind: spec.StatusCodeFilter, Op: spec.CompareGE, Value: 500},
			{Kind: spec.DurationFilter, Op: spec.CompareEQ, Value: 10},
			{Kind: spec.OrFilter, Children: []spec.AccessLogFilter{{Kind: spec.NotHealthCheckFilter}, {Kind: spec.TraceableFilter}}},
			{Kind: spec.RuntimeFilter, Fraction: spec.Fraction{Numerator: 5, Denominator: 10000}},
			{Kind: spec.HeaderFilter, Header: spec.HeaderMatch{Name: "x-env", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "prod"}}},
			{Kind: spec.ResponseFlagFilter, Flags: []string{"UF", "URX"}},
			{Kind: spec.GRPCStatusFilter, GRPCStatuses: []int{14, 0}, Exclude: true},
			{Kind: spec.RuntimeFilter, Fraction: spec.Fraction{Numerator: 0, Denominator: 100}},
		}}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTCPLogs(t, tc.items)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("access logs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeAccessLogErrors: what is not supported is rejected naming
// the field.
func TestDecodeAccessLogErrors(t *testing.T) {
	const at = `listener "web": filter_chains[0].filters[0].typed_config.access_log[0].`
	tests := []struct{ name, items, want string }{
		{"no typed_config", "      - {name: f}\n", at + "typed_config: required"},
		{"unknown logger", "      - {name: f, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: x, cluster: c}}\n",
			at + `typed_config: unsupported access logger "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"`},
		{"file without path", "      - {name: f, typed_config: {" + fileLog + "}}\n", at + "typed_config.path: value length must be at least 1"},
		{"file legacy format", "      - {name: f, typed_config: {" + fileLog + ", path: /l, format: x}}\n", at + "typed_config.format: not supported"},
		{"bad operator", "      - {name: f, typed_config: {" + fileLog + ", path: /l, log_format: {text_format: \"%NOPE%\"}}}\n",
			at + "typed_config.log_format.text_format: %NOPE%: command operator NOPE is not supported"},
		{"json list", "      - {name: f, typed_config: {" + fileLog + ", path: /l, log_format: {json_format: {a: [1]}}}}\n",
			at + "typed_config.log_format.json_format.a: lists are not supported"},
		{"json bad operator", "      - {name: f, typed_config: {" + fileLog + ", path: /l, log_format: {json_format: {a: {b: \"%X%\"}}}}}\n",
			at + "typed_config.log_format.json_format.a.b: %X%: command operator X is not supported"},
		{"formatters", "      - {name: f, typed_config: {" + fileLog + ", path: /l, log_format: {text_format: x, formatters: [{name: a, typed_config: {\"@type\": type.googleapis.com/google.protobuf.Empty}}]}}}\n",
			at + "typed_config.log_format.formatters: not supported"},
		{"text_format_source file", "      - {name: f, typed_config: {" + fileLog + ", path: /l, log_format: {text_format_source: {filename: /f}}}}\n",
			at + "typed_config.log_format.text_format_source.filename: not supported"},
		{"extension filter", "      - {name: f, typed_config: {" + fileLog + ", path: /l}, filter: {extension_filter: {name: x}}}\n",
			at + "filter.extension_filter: not supported"},
		{"metadata filter", "      - {name: f, typed_config: {" + fileLog + ", path: /l}, filter: {metadata_filter: {}}}\n",
			at + "filter.metadata_filter: not supported"},
		{"unknown flag", "      - {name: f, typed_config: {" + fileLog + ", path: /l}, filter: {response_flag_filter: {flags: [XX]}}}\n",
			at + `filter.response_flag_filter.flags[0]: value must be in list`},
		{"and of one", "      - {name: f, typed_config: {" + fileLog + ", path: /l}, filter: {and_filter: {filters: [{traceable_filter: {}}]}}}\n",
			at + "filter.and_filter.filters: value must contain at least 2 item(s)"},
		{"nested error", "      - {name: f, typed_config: {" + fileLog + ", path: /l}, filter: {or_filter: {filters: [{traceable_filter: {}}, {metadata_filter: {}}]}}}\n",
			at + "filter.or_filter.filters[1].metadata_filter: not supported"},
		{"empty filter", "      - {name: f, typed_config: {" + fileLog + ", path: /l}, filter: {}}\n", at + "filter.filter_specifier: value is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeTCPLogs(t, tc.items)
			wantError(t, err, tc.want)
		})
	}
}

const httpGRPCLog = `"@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig`

// TestDecodeHTTPGRPCLog decodes an HCM's http_grpc logger, and rejects
// what it does not support naming the field.
func TestDecodeHTTPGRPCLog(t *testing.T) {
	const common = "common_config: {log_name: l, transport_api_version: V3, grpc_service: {envoy_grpc: {cluster_name: als}}"
	decode := func(t *testing.T, logger string) ([]spec.AccessLog, error) {
		l := fromYAML(t, httpListener+"      route_config: {name: r}\n      access_log:\n      - {name: g, typed_config: {"+logger+"}}\n", &listenerv3.Listener{})
		got, err := DecodeListener(l)
		if err != nil {
			return nil, err
		}
		return got.FilterChains[0].HTTP.AccessLogs, nil
	}
	got, err := decode(t, httpGRPCLog+", "+common+"}, additional_request_headers_to_log: [X-Tenant], "+
		"additional_response_headers_to_log: [Server], additional_response_trailers_to_log: [Grpc-Status]")
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.AccessLog{{GRPC: &spec.GRPCAccessLog{LogName: "l", Cluster: "als", RequestHeaders: []string{"x-tenant"},
		ResponseHeaders: []string{"server"}, ResponseTrailers: []string{"grpc-status"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access logs (-want +got):\n%s", diff)
	}
	const at = `listener "web": filter_chains[0].filters[0].typed_config.access_log[0].typed_config`
	for _, tc := range []struct{ name, logger, want string }{
		{"tcp_grpc under an HCM", tcpGRPCLog + ", " + common + "}", at + `: "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.TcpGrpcAccessLogConfig" logs the other kind of traffic`},
		{"v2", httpGRPCLog + ", common_config: {log_name: l, grpc_service: {envoy_grpc: {cluster_name: als}}}", at + ".common_config.transport_api_version: only V3 is supported"},
		{"google_grpc", httpGRPCLog + ", common_config: {log_name: l, transport_api_version: V3, grpc_service: {google_grpc: {target_uri: x, stat_prefix: s}}}", at + ".common_config.grpc_service.google_grpc: not supported"},
		{"retry policy", httpGRPCLog + ", " + common + ", grpc_stream_retry_policy: {}}", at + ".common_config.grpc_stream_retry_policy: not supported"},
		{"filter state", httpGRPCLog + ", " + common + ", filter_state_objects_to_log: [a]}", at + ".common_config.filter_state_objects_to_log: not supported"},
		{"authority", httpGRPCLog + ", common_config: {log_name: l, transport_api_version: V3, grpc_service: {envoy_grpc: {cluster_name: als, authority: a}}}", at + ".common_config.grpc_service.envoy_grpc.authority: not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(t, tc.logger)
			wantError(t, err, tc.want)
		})
	}
}
