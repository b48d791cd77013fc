package config

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	grpcstatsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_stats/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	// emit_filter_state is not allowed: there is no filter state for it
	// to reach (no %FILTER_STATE% access-log operator).
	grpcStatsFields = allow(&grpcstatsv3.FilterConfig{}, "individual_method_stats_allowlist",
		"stats_for_all_methods", "enable_upstream_stats", "replace_dots_in_grpc_service_name")
	grpcMethodListFields    = allow(&corev3.GrpcMethodList{}, "services")
	grpcMethodServiceFields = allow(&corev3.GrpcMethodList_Service{}, "name", "method_names")
)

// decodeGRPCStats decodes Envoy's grpc_stats filter. Unset
// stats_for_all_methods is false, Envoy's default since 1.17. Envoy has
// no per-route configuration for it.
func decodeGRPCStats(a *anypb.Any, perRoute bool) (any, error) {
	if perRoute {
		return nil, errorf("", "per-route configuration is not supported")
	}
	m := &grpcstatsv3.FilterConfig{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := grpcStatsFields.check(m); err != nil {
		return nil, err
	}
	out := &spec.GRPCStats{AllMethods: m.GetStatsForAllMethods().GetValue(),
		UpstreamStats: m.GetEnableUpstreamStats(), ReplaceDots: m.GetReplaceDotsInGrpcServiceName()}
	l := m.GetIndividualMethodStatsAllowlist()
	if err := grpcMethodListFields.check(l); err != nil {
		return nil, within("individual_method_stats_allowlist", err)
	}
	for i, s := range l.GetServices() {
		if err := grpcMethodServiceFields.check(s); err != nil {
			return nil, within(index("individual_method_stats_allowlist.services", i), err)
		}
		if out.Allowlist == nil {
			out.Allowlist = map[string][]string{}
		}
		out.Allowlist[s.GetName()] = append(out.Allowlist[s.GetName()], s.GetMethodNames()...)
	}
	return out, nil
}
