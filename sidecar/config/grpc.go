package config

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Only the gRPC timeout header is implemented of max_stream_duration: a
// bound on the whole stream is rejected.
var streamDurationFields = allow(&routev3.RouteAction_MaxStreamDuration{},
	"grpc_timeout_header_max", "grpc_timeout_header_offset")

// decodeStreamDuration decodes a route's max_stream_duration: with
// grpc_timeout_header_max set (0: uncapped), a request's grpc-timeout
// header is its timeout, less grpc_timeout_header_offset. Nil when the
// header is not to be used.
func decodeStreamDuration(m *routev3.RouteAction_MaxStreamDuration) (*spec.GRPCTimeout, error) {
	if err := streamDurationFields.check(m); err != nil {
		return nil, err
	}
	if m.GetGrpcTimeoutHeaderMax() == nil {
		if m.GetGrpcTimeoutHeaderOffset() != nil {
			return nil, errorf("grpc_timeout_header_offset", "only with grpc_timeout_header_max")
		}
		return nil, nil
	}
	maxT, err := durationOr(m.GetGrpcTimeoutHeaderMax(), 0)
	if err != nil {
		return nil, within("grpc_timeout_header_max", err)
	}
	off, err := durationOr(m.GetGrpcTimeoutHeaderOffset(), 0)
	if err != nil {
		return nil, within("grpc_timeout_header_offset", err)
	}
	return &spec.GRPCTimeout{Max: maxT, Offset: off}, nil
}
