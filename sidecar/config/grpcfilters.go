package config

import (
	grpcbridgev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_http1_bridge/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var grpcBridgeFields = allow(&grpcbridgev3.Config{})

// decodeGRPCHTTP1Bridge decodes Envoy's grpc_http1_bridge filter, as
// Consul sends it for protocol grpc: no options (upgrade_protobuf_to_grpc
// and ignore_query_parameters are refused).
func decodeGRPCHTTP1Bridge(a *anypb.Any, perRoute bool) (any, error) {
	m := &grpcbridgev3.Config{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := grpcBridgeFields.check(m); err != nil {
		return nil, err
	}
	return &spec.GRPCHTTP1Bridge{}, nil
}
