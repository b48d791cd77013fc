package config

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// connLimitFilter is the network filter Consul's max_inbound_connections
// puts ahead of a public listener's terminal filter; extra is appended to
// its typed_config.
func connLimitFilter(extra string) string {
	return `
  - name: envoy.filters.network.connection_limit
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit
      stat_prefix: inbound_connection_limit
      max_connections: 7
` + extra
}

// withFilterFirst puts filter (YAML list items at the filters' indent)
// first in tcpListener's only chain.
func withFilterFirst(filter string) string {
	return strings.Replace(tcpListener+"      cluster: be\n", "- filters:\n", "- filters:"+filter, 1)
}

// Consul's proxy knobs as its xDS server emits them (recorded in
// integration TestConsulXDSResourcesDecode): max_inbound_connections as a
// connection_limit filter, balance_inbound_connections as exact_balance.
func TestDecodeConsulKnobs(t *testing.T) {
	l, err := DecodeListener(fromYAML(t, withFilterFirst(connLimitFilter(""))+
		"connection_balance_config: {exact_balance: {}}\n", &listenerv3.Listener{}))
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.NetworkFilter{{Name: "envoy.filters.network.connection_limit", TypeURL: spec.ConnectionLimitType,
		Config: &spec.ConnectionLimit{StatPrefix: "inbound_connection_limit", MaxConnections: 7}}}
	if diff := cmp.Diff(want, l.FilterChains[0].Filters); diff != "" {
		t.Errorf("filters (-want +got):\n%s", diff)
	}
	off, err := DecodeListener(fromYAML(t, withFilterFirst(connLimitFilter(
		"      runtime_enabled: {default_value: false, runtime_key: x}\n")), &listenerv3.Listener{}))
	if err != nil {
		t.Fatal(err)
	}
	if c := off.FilterChains[0].Filters[0].Config.(*spec.ConnectionLimit); !c.Disabled {
		t.Errorf("runtime_enabled false: the limit is not disabled")
	}
}

func TestDecodeConsulKnobsErrors(t *testing.T) {
	const f0 = `listener "web": filter_chains[0].filters[0].typed_config.`
	tests := []struct{ name, yaml, want string }{
		{"connection limit delay", withFilterFirst(connLimitFilter("      delay: 1s\n")), f0 + "delay: not supported"},
		{"connection limit of 0", strings.Replace(withFilterFirst(connLimitFilter("")), "max_connections: 7", "max_connections: 0", 1),
			f0 + "max_connections: value must be greater than or equal to 1"},
		{"extend_balance", tcpListener + "      cluster: be\n" +
			`connection_balance_config: {extend_balance: {name: x, typed_config: {"@type": type.googleapis.com/google.protobuf.Empty}}}` + "\n",
			`listener "web": connection_balance_config.extend_balance: not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeListener(fromYAML(t, tt.yaml, &listenerv3.Listener{}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
