package spec

// GRPCStatsType is the type URL of Envoy's grpc_stats HTTP filter.
const GRPCStatsType = "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"

// GRPCStats is envoy.extensions.filters.http.grpc_stats.v3.FilterConfig:
// per-cluster counts of gRPC calls (success, failure, total, messages each
// way) and, optionally, their upstream time.
type GRPCStats struct {
	// AllMethods names every method's stats after its service and method
	// (stats_for_all_methods true). When false, only the methods of
	// Allowlist are named; the others count under the cluster's generic
	// grpc.* stats.
	AllMethods bool
	// Allowlist is individual_method_stats_allowlist: service name to
	// method names.
	Allowlist map[string][]string
	// UpstreamStats records upstream_rq_time (enable_upstream_stats).
	UpstreamStats bool
	// ReplaceDots writes a service's dots as underscores in stat names
	// (replace_dots_in_grpc_service_name).
	ReplaceDots bool
}
