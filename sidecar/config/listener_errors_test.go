package config

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestDecodeListenerErrors(t *testing.T) {
	const hcm = `filter_chains[0].filters[0].typed_config.`
	tests := []struct {
		name string
		yaml string
		edit func(*listenerv3.Listener) // applied after parsing, when set
		want string
	}{{
		name: "unsupported network filter",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) {
			l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{
				TypeUrl: "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy"}}
		},
		want: `listener "web": filter_chains[0].filters[0].typed_config: unsupported filter "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy"`,
	}, {
		name: "missing typed_config",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) { l.FilterChains[0].Filters[0].ConfigType = nil },
		want: `listener "web": filter_chains[0].filters[0].typed_config: required`,
	}, {
		name: "two filter chains with the same match",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) { l.FilterChains = append(l.FilterChains, l.FilterChains[0]) },
		want: `listener "web": filter_chains[1].filter_chain_match: overlaps filter_chains[0] (""): a connection would match both by the same rules`,
	}, {
		name: "terminal filter before another",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) {
			l.FilterChains[0].Filters = append(l.FilterChains[0].Filters, l.FilterChains[0].Filters[0])
		},
		want: `listener "web": filter_chains[0].filters[0].typed_config: terminal filter "` + tcpProxyType + `" must be the last filter of its chain`,
	}, {
		name: "filter_chain_match server_names",
		yaml: tcpListener + "      cluster: be\n  filter_chain_match: {server_names: [example.com]}\n",
		want: `listener "web": filter_chains[0].filter_chain_match.server_names: needs the TLS inspector: add envoy.filters.listener.tls_inspector to the listener's listener_filters`,
	}, {
		name: "transport socket without a configuration",
		yaml: tcpListener + "      cluster: be\n  transport_socket: {name: tls}\n",
		want: `listener "web": filter_chains[0].transport_socket.typed_config: required`,
	}, {
		name: "unsupported listener filter",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) {
			l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: "http", ConfigType: &listenerv3.ListenerFilter_TypedConfig{
				TypedConfig: &anypb.Any{TypeUrl: httpInspectorType}}}}
		},
		want: `listener "web": listener_filters[0].typed_config: unsupported listener filter "` + httpInspectorType + `"`,
	}, {
		name: "udp",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) { l.Address.GetSocketAddress().Protocol = 1 },
		want: `listener "web": address.socket_address.protocol: not supported`,
	}, {
		name: "host name address",
		yaml: `{name: web, address: {socket_address: {address: localhost, port_value: 80}}}`,
		want: `listener "web": address.socket_address.address: "localhost" is not an IP address`,
	}, {
		name: "pipe address",
		yaml: `{name: web, address: {pipe: {path: /tmp/s}}}`,
		want: `listener "web": address.pipe: not supported`,
	}, {
		name: "no address",
		yaml: `{name: web}`,
		want: `listener "web": address: required`,
	}, {
		name: "no name",
		yaml: `{address: {socket_address: {address: 127.0.0.1, port_value: 80}}}`,
		want: `listener "": name: must not be empty`,
	}, {
		name: "validation error names the proto field",
		yaml: tcpListener + "      cluster: be\n",
		edit: func(l *listenerv3.Listener) { l.FilterChains[0].Filters[0].Name = "" },
		want: `listener "web": filter_chains[0].filters[0].name: value length must be at least 1 runes`,
	}, {
		name: "tcp proxy field",
		yaml: tcpListener + "      cluster: be\n      max_connect_attempts: 3\n",
		want: `listener "web": filter_chains[0].filters[0].typed_config.max_connect_attempts: not supported`,
	}, {
		name: "tcp proxy negative idle timeout",
		yaml: tcpListener + "      cluster: be\n      idle_timeout: -1s\n",
		want: `listener "web": filter_chains[0].filters[0].typed_config.idle_timeout: must not be negative`,
	}, {
		name: "http3 codec",
		yaml: httpListener + "      codec_type: HTTP3\n      rds: {route_config_name: main, config_source: {ads: {}}}\n",
		want: `listener "web": ` + hcm + `codec_type: HTTP3 is not supported`,
	}, {
		name: "http2 option not implemented",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      http2_protocol_options: {hpack_table_size: 0}\n",
		want: `listener "web": ` + hcm + `http2_protocol_options.hpack_table_size: not supported`,
	}, {
		name: "http2 stream window below the minimum",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      http2_protocol_options: {initial_stream_window_size: 100}\n",
		want: `initial_stream_window_size: value must be inside range [65535, 2147483647]`,
	}, {
		name: "hcm field",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      server_name: x\n",
		want: `listener "web": ` + hcm + `server_name: not supported`,
	}, {
		name: "http_protocol_options field",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      http_protocol_options: {allow_chunked_length: true}\n",
		want: `listener "web": ` + hcm + `http_protocol_options.allow_chunked_length: not supported`,
	}, {
		name: "negative request_headers_timeout",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      request_headers_timeout: -1s\n",
		want: `listener "web": ` + hcm + `request_headers_timeout: value must be greater than or equal to 0s`,
	}, {
		name: "CONNECT upgrade",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: CONNECT}]\n",
		want: `listener "web": ` + hcm + `upgrade_configs[1].upgrade_type: "CONNECT" is not supported: CONNECT is not relayed`,
	}, {
		name: "upgrade filters",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      upgrade_configs: [{upgrade_type: websocket, filters: [{name: x}]}]\n",
		want: `listener "web": ` + hcm + `upgrade_configs[0].filters: not supported`,
	}, {
		name: "rds without name",
		yaml: httpListener + "      rds: {config_source: {ads: {}}}\n",
		want: `listener "web": ` + hcm + `rds.route_config_name: must not be empty`,
	}, {
		name: "router not last",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n",
		edit: func(l *listenerv3.Listener) { editHCM(t, l, func(m *hcmHTTPFilters) { *m = append(*m, (*m)[0]) }) },
		want: `listener "web": ` + hcm + `http_filters[0]: the router must be the last filter`,
	}, {
		name: "non-router http filter",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n",
		edit: func(l *listenerv3.Listener) {
			editHCM(t, l, func(m *hcmHTTPFilters) {
				(*m)[0].ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: corsType}}
			})
		},
		want: `listener "web": ` + hcm + `http_filters[0].typed_config: unsupported HTTP filter "` + corsType + `"`,
	}, {
		name: "http filter without typed_config",
		yaml: httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n",
		edit: func(l *listenerv3.Listener) {
			editHCM(t, l, func(m *hcmHTTPFilters) { (*m)[0].ConfigType = nil })
		},
		want: `listener "web": ` + hcm + `http_filters[0].typed_config: required`,
	}, {
		name: "router option",
		yaml: `
name: web
address: {socket_address: {address: 127.0.0.1, port_value: 80}}
filter_chains:
- filters:
  - name: hcm
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: ingress
      rds: {route_config_name: main, config_source: {ads: {}}}
      http_filters:
      - name: envoy.filters.http.router
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          start_child_span: true
`,
		want: `listener "web": ` + hcm + `http_filters[0].typed_config.start_child_span: not supported`,
	}, {
		name: "inline route error",
		yaml: httpListener + `      route_config:
        virtual_hosts:
        - name: all
          domains: ["*"]
          routes: [{match: {prefix: /}, route: {cluster: be, hash_policy: [{header: {header_name: x, regex_rewrite: {pattern: {regex: a}, substitution: b}}}]}}]
`,
		want: `listener "web": ` + hcm + `route_config.virtual_hosts[0].routes[0].route.hash_policy[0].header.regex_rewrite: not supported`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := fromYAML(t, tt.yaml, &listenerv3.Listener{})
			if tt.edit != nil {
				tt.edit(l)
			}
			got, err := DecodeListener(l)
			if got != nil {
				t.Errorf("DecodeListener returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}

const httpInspectorType = "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"

const corsType = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"

type hcmHTTPFilters = []*hcmv3.HttpFilter

// editHCM edits the HTTP filters of l's connection manager in place.
func editHCM(t *testing.T, l *listenerv3.Listener, edit func(*hcmHTTPFilters)) {
	t.Helper()
	f := l.FilterChains[0].Filters[0]
	m := &hcmv3.HttpConnectionManager{}
	if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
		t.Fatal(err)
	}
	edit(&m.HttpFilters)
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	f.ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
}
