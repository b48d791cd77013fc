package spec

// GRPCHTTP1BridgeType is the type URL of Envoy's grpc_http1_bridge
// filter, which Consul's xDS server puts on the listeners of services of
// protocol grpc (with grpc_stats, GRPCStatsType); sidecar/httpfilter/grpcbridge
// runs it.
const GRPCHTTP1BridgeType = "type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config"

// GRPCHTTP1Bridge is Envoy's grpc_http1_bridge filter, which turns an
// HTTP/1.1 gRPC exchange's trailers into headers. It has no options:
// sidecar/config refuses upgrade_protobuf_to_grpc and
// ignore_query_parameters.
type GRPCHTTP1Bridge struct{}
