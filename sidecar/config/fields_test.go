package config

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func TestAllowUnknownName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("allow accepted a name that is not a field")
		}
	}()
	allow(&clusterv3.Cluster{}, "name", "lb_polcy")
}

func TestCheckWrongType(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("check accepted a message of another type")
		}
	}()
	_ = clusterFields.check(&clusterv3.CircuitBreakers{})
}

func TestCheckUnknownField(t *testing.T) {
	raw, err := proto.Marshal(&clusterv3.Cluster{Name: "be"})
	if err != nil {
		t.Fatal(err)
	}
	raw = protowire.AppendTag(raw, 9999, protowire.VarintType)
	raw = protowire.AppendVarint(raw, 1)
	c := &clusterv3.Cluster{}
	if err := proto.Unmarshal(raw, c); err != nil {
		t.Fatal(err)
	}
	_, err = DecodeCluster(c)
	wantError(t, err, `cluster "be": unknown field number 9999 is not supported`)
}

func TestCheckNil(t *testing.T) {
	if err := clusterFields.check((*clusterv3.Cluster)(nil)); err != nil {
		t.Errorf("check(nil) = %v, want nil", err)
	}
}

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Name", "name"},
		{"FilterChains[0]", "filter_chains[0]"},
		{"Http2ProtocolOptions", "http2_protocol_options"},
		{`TypedExtensionProtocolOptions["envoy.A"]`, `typed_extension_protocol_options["envoy.A"]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := snakeCase(tt.in); got != tt.want {
				t.Errorf("snakeCase(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
