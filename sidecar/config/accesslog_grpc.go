package config

import (
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// decodeGRPCLogger decodes an http_grpc or tcp_grpc access logger.
func decodeGRPCLogger(tc *anypb.Any, tcp bool, out *spec.AccessLog) error {
	return errorf("", "unsupported access logger %q", tc.GetTypeUrl())
}
