package spec

// Type URLs of the gRPC HTTP filters Consul's xDS server puts on the
// listeners of services of protocol grpc. meshlb accepts both and runs
// neither (see GRPCStats and GRPCHTTP1Bridge): gRPC requests pass through
// them unchanged.
const (
	GRPCStatsType       = "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"
	GRPCHTTP1BridgeType = "type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config"
)

// GRPCStats is Envoy's grpc_stats filter as Consul configures it
// (stats_for_all_methods). meshlb keeps no per-method gRPC stats: the
// filter does nothing, and the sidecar says so once at startup.
type GRPCStats struct{}

// GRPCHTTP1Bridge is Envoy's grpc_http1_bridge filter, which turns an
// HTTP/1.1 gRPC exchange's trailers into headers. meshlb does not bridge:
// gRPC over HTTP/2 (every gRPC client) is unaffected, and the sidecar says
// so once at startup.
type GRPCHTTP1Bridge struct{}
