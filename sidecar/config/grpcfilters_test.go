package config

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// TestDecodeGRPCHTTP1BridgeErrors: the bridge's options, which meshlb
// does not implement, are NACKed by name.
func TestDecodeGRPCHTTP1BridgeErrors(t *testing.T) {
	const hf = `listener "web": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config`
	tests := []struct{ name, fields, want string }{
		{"upgrade_protobuf_to_grpc", ", upgrade_protobuf_to_grpc: true", hf + ".upgrade_protobuf_to_grpc: not supported"},
		{"ignore_query_parameters", ", ignore_query_parameters: true", hf + ".ignore_query_parameters: not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeListener(fromYAML(t, filterListener("\n      - name: b\n        typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config"+tt.fields+"}"), &listenerv3.Listener{}))
			wantError(t, err, tt.want)
		})
	}
}
