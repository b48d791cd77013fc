package config

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestDecodeHealthCheck(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *spec.HealthCheck
	}{{
		name: "tcp connect with defaults",
		yaml: "{timeout: 1s, interval: 2s, unhealthy_threshold: 2, healthy_threshold: 3, tcp_health_check: {}}",
		want: &spec.HealthCheck{Timeout: time.Second, Interval: 2 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 2,
			NoTrafficInterval: time.Minute, UnhealthyInterval: 2 * time.Second, UnhealthyEdgeInterval: 2 * time.Second,
			HealthyEdgeInterval: 2 * time.Second, TCP: &spec.TCPHealthCheck{}},
	}, {
		name: "tcp payloads and every interval",
		yaml: `{timeout: 1s, interval: 2s, unhealthy_threshold: 1, healthy_threshold: 1, initial_jitter: 0.5s, interval_jitter: 0.1s,
interval_jitter_percent: 10, no_traffic_interval: 5s, unhealthy_interval: 3s, unhealthy_edge_interval: 4s,
healthy_edge_interval: 6s, always_log_health_check_failures: true,
tcp_health_check: {send: {text: "50494e47"}, receive: [{text: "504f"}, {text: "4e47"}]}}`,
		want: &spec.HealthCheck{Timeout: time.Second, Interval: 2 * time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1,
			InitialJitter: 500 * time.Millisecond, IntervalJitter: 100 * time.Millisecond, IntervalJitterPercent: 10,
			NoTrafficInterval: 5 * time.Second, UnhealthyInterval: 3 * time.Second, UnhealthyEdgeInterval: 4 * time.Second,
			HealthyEdgeInterval: 6 * time.Second, AlwaysLogFailures: true,
			TCP: &spec.TCPHealthCheck{Send: []byte("PING"), Receive: [][]byte{[]byte("PO"), []byte("NG")}}},
	}, {
		name: "http with defaults: host is the cluster, GET, 200",
		yaml: "{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, unhealthy_interval: 5s, http_health_check: {path: /healthz}}",
		want: &spec.HealthCheck{Timeout: time.Second, Interval: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2,
			NoTrafficInterval: time.Minute, UnhealthyInterval: 5 * time.Second, UnhealthyEdgeInterval: 5 * time.Second,
			HealthyEdgeInterval: time.Second,
			HTTP:                &spec.HTTPHealthCheck{Host: "be", Path: "/healthz", Method: "GET", Expected: []spec.StatusRange{{Start: 200, End: 201}}}},
	}, {
		name: "http with every field",
		yaml: `{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, http_health_check: {path: /hc, host: hc.local, method: HEAD,
request_headers_to_add: [{header: {key: x-hc, value: "1"}}], expected_statuses: [{start: 200, end: 300}], retriable_statuses: [{start: 503, end: 504}]}}`,
		want: &spec.HealthCheck{Timeout: time.Second, Interval: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2,
			NoTrafficInterval: time.Minute, UnhealthyInterval: time.Second, UnhealthyEdgeInterval: time.Second, HealthyEdgeInterval: time.Second,
			HTTP: &spec.HTTPHealthCheck{Host: "hc.local", Path: "/hc", Method: "HEAD", Headers: []spec.HeaderValue{{Name: "x-hc", Value: "1"}},
				Expected: []spec.StatusRange{{Start: 200, End: 300}}, Retriable: []spec.StatusRange{{Start: 503, End: 504}}}},
	}, {
		name: "grpc: authority is the cluster",
		yaml: "{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, grpc_health_check: {}}",
		want: &spec.HealthCheck{Timeout: time.Second, Interval: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2,
			NoTrafficInterval: time.Minute, UnhealthyInterval: time.Second, UnhealthyEdgeInterval: time.Second, HealthyEdgeInterval: time.Second,
			GRPC: &spec.GRPCHealthCheck{Authority: "be"}},
	}, {
		name: "grpc with every field",
		yaml: "{timeout: 1s, interval: 1s, unhealthy_threshold: 2, healthy_threshold: 2, grpc_health_check: {service_name: api, authority: api.local, initial_metadata: [{header: {key: x-hc, value: \"1\"}}]}}",
		want: &spec.HealthCheck{Timeout: time.Second, Interval: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2,
			NoTrafficInterval: time.Minute, UnhealthyInterval: time.Second, UnhealthyEdgeInterval: time.Second, HealthyEdgeInterval: time.Second,
			GRPC: &spec.GRPCHealthCheck{ServiceName: "api", Authority: "api.local", Metadata: []spec.HeaderValue{{Name: "x-hc", Value: "1"}}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeCluster(fromYAML(t, "{name: be, health_checks: ["+tt.yaml+"]}", &clusterv3.Cluster{}))
			if err != nil {
				t.Fatalf("DecodeCluster: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.HealthCheck); diff != "" {
				t.Errorf("HealthCheck mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeHealthCheckErrors(t *testing.T) {
	const base = "timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1"
	const hc0 = `cluster "be": health_checks[0].`
	tests := []struct {
		name, yaml, want string
	}{
		{"grpc raw metadata", "{" + base + ", grpc_health_check: {initial_metadata: [{header: {key: a, raw_value: YQ==}}]}}", hc0 + "grpc_health_check.initial_metadata[0].header.raw_value: not supported"},
		{"custom", "{" + base + ", custom_health_check: {name: x}}", hc0 + "custom_health_check: not supported"},
		{"reuse connection", "{" + base + ", reuse_connection: true, tcp_health_check: {}}", hc0 + "reuse_connection: not supported"},
		{"event log", "{" + base + ", event_log_path: /tmp/x, tcp_health_check: {}}", hc0 + "event_log_path: not supported"},
		{"tls options", "{" + base + ", tls_options: {}, tcp_health_check: {}}", hc0 + "tls_options: not supported"},
		{"http service name matcher", "{" + base + ", http_health_check: {path: /, service_name_matcher: {exact: a}}}", hc0 + "http_health_check.service_name_matcher: not supported"},
		{"http codec", "{" + base + ", http_health_check: {path: /, codec_client_type: HTTP2}}", hc0 + "http_health_check.codec_client_type: not supported"},
		{"http connect", "{" + base + ", http_health_check: {path: /, method: CONNECT}}", hc0 + "http_health_check.method"},
		{"binary payload", "{" + base + ", tcp_health_check: {send: {binary: AA==}}}", hc0 + "tcp_health_check.send.binary: not supported"},
		{"bad hex", "{" + base + ", tcp_health_check: {send: {text: zz}}}", hc0 + "tcp_health_check.send.text: not hex"},
		{"two checks", "{" + base + ", tcp_health_check: {}}, {" + base + ", tcp_health_check: {}}", `cluster "be": health_checks[1]: only one health check per cluster is supported`},
		{"no interval", "{timeout: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {}}", "interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCluster(fromYAML(t, "{name: be, health_checks: ["+tt.yaml+"]}", &clusterv3.Cluster{}))
			if got != nil {
				t.Errorf("DecodeCluster returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}
