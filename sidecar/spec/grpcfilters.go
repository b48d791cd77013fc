package spec

// GRPCHTTP1BridgeType is the type URL of Envoy's grpc_http1_bridge
// filter, which Consul's xDS server puts on the listeners of services of
// protocol grpc (with grpc_stats, GRPCStatsType). meshlb accepts it and
// does not run it: gRPC requests pass through it unchanged.
const GRPCHTTP1BridgeType = "type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config"

// GRPCHTTP1Bridge is Envoy's grpc_http1_bridge filter, which turns an
// HTTP/1.1 gRPC exchange's trailers into headers. meshlb does not bridge:
// gRPC over HTTP/2 (every gRPC client) is unaffected, and the sidecar says
// so once at startup.
type GRPCHTTP1Bridge struct{}
