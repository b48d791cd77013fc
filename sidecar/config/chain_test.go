package config

import (
	"net/netip"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	lratev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/local_ratelimit/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshlb/meshlb/sidecar/spec"
)

const (
	tcpProxyYAML = `
  - name: tcp
    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: be}
`
	rateLimitYAML = `
  - name: rl
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
      stat_prefix: rl
      token_bucket: {max_tokens: 5, fill_interval: 1s}
`
)

func TestLocalRateLimitType(t *testing.T) {
	if got := typeURL(&lratev3.LocalRateLimit{}); got != spec.LocalRateLimitType {
		t.Errorf("spec.LocalRateLimitType = %q, want %q", spec.LocalRateLimitType, got)
	}
}

func TestDecodeFilterChains(t *testing.T) {
	yaml := `
name: multi
address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
filter_chains:
- name: internal
  filter_chain_match:
    destination_port: 8080
    prefix_ranges: [{address_prefix: 10.1.2.3, prefix_len: 8}, {address_prefix: "::1", prefix_len: 128}]
    direct_source_prefix_ranges: [{address_prefix: 192.168.0.0, prefix_len: 16}]
    source_type: SAME_IP_OR_LOOPBACK
    source_prefix_ranges: [{address_prefix: 127.0.0.1, prefix_len: 32}]
    source_ports: [5000, 5001]
    transport_protocol: raw_buffer
  filters:` + rateLimitYAML + `
  - name: rl2
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
      stat_prefix: rl2
      token_bucket: {max_tokens: 1, tokens_per_fill: 3, fill_interval: 0.05s}
      runtime_enabled: {default_value: false, runtime_key: rl2.enabled}
` + tcpProxyYAML + `
- filter_chain_match: {source_type: EXTERNAL, source_prefix_ranges: [{address_prefix: 10.0.0.0}]}
  filters:` + tcpProxyYAML + `
default_filter_chain:
  filters:` + tcpProxyYAML
	got, err := DecodeListener(fromYAML(t, yaml, &listenerv3.Listener{}))
	if err != nil {
		t.Fatalf("DecodeListener: %v", err)
	}
	tcp := &TCPProxy{StatPrefix: "t", Cluster: "be", IdleTimeout: time.Hour}
	want := &Listener{Name: "multi", Address: "0.0.0.0:8080", FilterChains: []FilterChain{{
		Name: "internal",
		Match: FilterChainMatch{
			DestinationPort:      8080,
			PrefixRanges:         []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			DirectSourcePrefixes: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")},
			SourceType:           spec.SourceLocal,
			SourcePrefixRanges:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			SourcePorts:          []uint16{5000, 5001},
			TransportProtocol:    "raw_buffer",
		},
		Filters: []NetworkFilter{
			{Name: "rl", TypeURL: spec.LocalRateLimitType, Config: &LocalRateLimit{StatPrefix: "rl",
				Bucket: TokenBucket{MaxTokens: 5, TokensPerFill: 1, FillInterval: time.Second}}},
			{Name: "rl2", TypeURL: spec.LocalRateLimitType, Config: &LocalRateLimit{StatPrefix: "rl2", Disabled: true,
				Bucket: TokenBucket{MaxTokens: 1, TokensPerFill: 3, FillInterval: 50 * time.Millisecond}}},
		},
		TCP: tcp,
	}, {
		Match: FilterChainMatch{SourceType: spec.SourceExternal, SourcePrefixRanges: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}},
		TCP:   tcp,
	}}, Default: &FilterChain{TCP: tcp}}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("DecodeListener mismatch (-want +got):\n%s", diff)
	}
	if names := got.RDSNames(); len(names) != 0 {
		t.Errorf("RDSNames = %q, want none", names)
	}
}

func TestDecodeFilterChainErrors(t *testing.T) {
	head := "name: l\naddress: {socket_address: {address: 127.0.0.1, port_value: 80}}\n"
	chain := func(match string) string {
		return head + "filter_chains:\n- filter_chain_match: " + match + "\n  filters:" + tcpProxyYAML
	}
	rl := func(fields string) string {
		return head + `filter_chains:
- filters:
  - name: rl
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
      stat_prefix: rl
` + fields + tcpProxyYAML
	}
	const rlPath = `listener "l": filter_chains[0].filters[0].typed_config.`
	tests := []struct {
		name, yaml, want string
	}{
		{"no chains", head, `listener "l": filter_chains: at least one filter chain or a default_filter_chain is required`},
		{"no filters", head + "filter_chains: [{name: x}]\n", `listener "l": filter_chains[0].filters: a terminal filter (tcp_proxy or http_connection_manager) is required`},
		{"non-terminal last", head + "filter_chains:\n- filters:" + rateLimitYAML,
			`listener "l": filter_chains[0].filters[0].typed_config: "` + spec.LocalRateLimitType + `" is not a terminal filter: the last filter must be tcp_proxy or http_connection_manager`},
		{"default chain error", head + "default_filter_chain: {filters: []}\n", `listener "l": default_filter_chain.filters: a terminal filter (tcp_proxy or http_connection_manager) is required`},
		{"overlapping ports", head + "filter_chains:\n- name: a\n  filter_chain_match: {source_ports: [1, 2]}\n  filters:" + tcpProxyYAML +
			"- name: b\n  filter_chain_match: {source_ports: [2]}\n  filters:" + tcpProxyYAML,
			`listener "l": filter_chains[1].filter_chain_match: overlaps filter_chains[0] ("a"): a connection would match both by the same rules`},
		{"application_protocols", chain("{application_protocols: [h2]}"),
			`listener "l": filter_chains[0].filter_chain_match.application_protocols: needs the TLS inspector: add envoy.filters.listener.tls_inspector to the listener's listener_filters`},
		{"tls transport", chain("{transport_protocol: tls}"),
			`listener "l": filter_chains[0].filter_chain_match.transport_protocol: "tls" needs the TLS inspector: add envoy.filters.listener.tls_inspector to the listener's listener_filters`},
		{"other transport", chain("{transport_protocol: quic}"),
			`listener "l": filter_chains[0].filter_chain_match.transport_protocol: "quic" is not supported: only "raw_buffer" and "tls"`},
		{"address_suffix", chain("{address_suffix: x}"), `listener "l": filter_chains[0].filter_chain_match.address_suffix: not supported`},
		{"prefix too long", chain("{prefix_ranges: [{address_prefix: 10.0.0.0, prefix_len: 33}]}"),
			`listener "l": filter_chains[0].filter_chain_match.prefix_ranges[0].prefix_len: 33 is longer than the 32 bits of 10.0.0.0`},
		{"prefix not an IP", chain("{source_prefix_ranges: [{address_prefix: example.com}]}"),
			`listener "l": filter_chains[0].filter_chain_match.source_prefix_ranges[0].address_prefix: "example.com" is not an IP address`},
		{"destination port 0", chain("{destination_port: 0}"),
			`listener "l": filter_chains[0].filter_chain_match.destination_port: value must be inside range [1, 65535]`},
		{"source port too big", chain("{source_ports: [70000]}"),
			`listener "l": filter_chains[0].filter_chain_match.source_ports[0]: value must be inside range [1, 65535]`},
		{"fill interval too short", rl("      token_bucket: {max_tokens: 1, fill_interval: 0.04s}\n"), rlPath + `token_bucket.fill_interval: must be at least 50ms`},
		{"share_key", rl("      token_bucket: {max_tokens: 1, fill_interval: 1s}\n      share_key: k\n"), rlPath + `share_key: not supported`},
		{"no token bucket", rl(""), rlPath + `token_bucket: value is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeListener(fromYAML(t, tt.yaml, &listenerv3.Listener{}))
			if got != nil {
				t.Errorf("DecodeListener returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}

// TestBootstrapFilterChains reads a bootstrap whose listener has two
// filter chains and the network local_ratelimit filter: the filter's type
// is registered for protojson.
func TestBootstrapFilterChains(t *testing.T) {
	b, err := ParseBootstrap("envoy.yaml", []byte(`
static_resources:
  listeners:
  - name: multi
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filter_chain_match: {source_prefix_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]}
      filters:
      - name: rl
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
          stat_prefix: rl
          token_bucket: {max_tokens: 5, fill_interval: 1s}
      - name: tcp
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: be}
    - filters:
      - name: tcp
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: be}
`))
	if err != nil {
		t.Fatalf("ParseBootstrap: %v", err)
	}
	l := b.Static.Listeners[0]
	if len(l.FilterChains) != 2 || len(l.FilterChains[0].Filters) != 1 || l.FilterChains[0].Filters[0].TypeURL != spec.LocalRateLimitType {
		t.Errorf("listener = %+v, want two chains, the first with a local rate limit", l)
	}
}

const tlsInspectorYAML = `listener_filters:
- name: tls
  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`

func TestDecodeTLSInspector(t *testing.T) {
	head := "name: l\naddress: {socket_address: {address: 127.0.0.1, port_value: 80}}\n"
	chains := `filter_chains:
- filter_chain_match: {server_names: ["*.Example.com", api.example.org], application_protocols: [h2], transport_protocol: tls}
  filters:` + tcpProxyYAML
	tcp := &TCPProxy{StatPrefix: "t", Cluster: "be", IdleTimeout: time.Hour}
	match := FilterChainMatch{ServerNames: []string{"*.example.com", "api.example.org"}, ApplicationProtocols: []string{"h2"}, TransportProtocol: "tls"}
	tests := []struct {
		name, yaml string
		want       *TLSInspector
	}{
		{"defaults", head + tlsInspectorYAML + "}\n" + chains, &TLSInspector{Timeout: 15 * time.Second}},
		{"options", head + tlsInspectorYAML + ", close_connection_on_client_hello_parsing_errors: true, initial_read_buffer_size: 1024}\n" +
			"listener_filters_timeout: 0s\ncontinue_on_listener_filters_timeout: true\n" + chains,
			&TLSInspector{ContinueOnTimeout: true, CloseOnParseError: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeListener(fromYAML(t, tt.yaml, &listenerv3.Listener{}))
			if err != nil {
				t.Fatalf("DecodeListener: %v", err)
			}
			want := &Listener{Name: "l", Address: "127.0.0.1:80", TLSInspector: tt.want,
				FilterChains: []FilterChain{{Match: match, TCP: tcp}}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("DecodeListener mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeTLSInspectorErrors(t *testing.T) {
	head := "name: l\naddress: {socket_address: {address: 127.0.0.1, port_value: 80}}\n"
	chain := func(match string) string {
		return head + tlsInspectorYAML + "}\nfilter_chains:\n- filter_chain_match: " + match + "\n  filters:" + tcpProxyYAML
	}
	tests := []struct {
		name, yaml, want string
	}{
		{"partial wildcard", chain(`{server_names: ["www.*.com"]}`),
			`listener "l": filter_chains[0].filter_chain_match.server_names[0]: "www.*.com": only exact names and "*.suffix" wildcards are supported`},
		{"bare wildcard", chain(`{server_names: ["*"]}`),
			`listener "l": filter_chains[0].filter_chain_match.server_names[0]: "*": only exact names and "*.suffix" wildcards are supported`},
		{"empty alpn", chain(`{application_protocols: [""]}`),
			`listener "l": filter_chains[0].filter_chain_match.application_protocols[0]: must not be empty`},
		{"ja3 fingerprinting", head + tlsInspectorYAML + ", enable_ja3_fingerprinting: true}\nfilter_chains:\n- filters:" + tcpProxyYAML,
			`listener "l": listener_filters[0].typed_config.enable_ja3_fingerprinting: not supported`},
		{"negative timeout", head + tlsInspectorYAML + "}\nlistener_filters_timeout: -1s\nfilter_chains:\n- filters:" + tcpProxyYAML,
			`listener "l": listener_filters_timeout: must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeListener(fromYAML(t, tt.yaml, &listenerv3.Listener{}))
			if got != nil {
				t.Errorf("DecodeListener returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}
