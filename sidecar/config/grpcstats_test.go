package config

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

const grpcStatsURL = "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"

// TestDecodeGRPCStats decodes grpc_stats configurations into spec.GRPCStats.
func TestDecodeGRPCStats(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		want   spec.GRPCStats
	}{
		{"empty: generic stats", "", spec.GRPCStats{}},
		{"all methods", ", stats_for_all_methods: true, replace_dots_in_grpc_service_name: true", spec.GRPCStats{AllMethods: true, ReplaceDots: true}},
		{"all methods false", ", stats_for_all_methods: false", spec.GRPCStats{}},
		{"allowlist", ", individual_method_stats_allowlist: {services: [{name: pkg.S, method_names: [A, B]}, {name: pkg.S, method_names: [C]}]}, enable_upstream_stats: true",
			spec.GRPCStats{Allowlist: map[string][]string{"pkg.S": {"A", "B", "C"}}, UpstreamStats: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := DecodeListener(fromYAML(t, filterListener("\n      - name: g\n        typed_config: {\"@type\": "+grpcStatsURL+tt.fields+"}"), &listenerv3.Listener{}))
			if err != nil {
				t.Fatal(err)
			}
			got := l.FilterChains[0].HTTP.Filters[0]
			if diff := cmp.Diff(spec.HTTPFilter{Name: "g", TypeURL: grpcStatsURL, Config: &tt.want}, got); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeGRPCStatsErrors: the fields meshlb does not implement are
// NACKed by name.
func TestDecodeGRPCStatsErrors(t *testing.T) {
	const hf = `listener "web": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config`
	tests := []struct{ name, fields, want string }{
		{"emit_filter_state", ", emit_filter_state: true", hf + ".emit_filter_state: not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeListener(fromYAML(t, filterListener("\n      - name: g\n        typed_config: {\"@type\": "+grpcStatsURL+tt.fields+"}"), &listenerv3.Listener{}))
			wantError(t, err, tt.want)
		})
	}
}
