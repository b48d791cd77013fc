package config

import (
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Listener YAML fragments: a TCP proxy, and the head of an HTTP connection
// manager whose tail (route specifier, options) each case supplies.
const (
	tcpListener = `
name: web
address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
filter_chains:
- filters:
  - name: tcp
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: web
`
	httpListener = `
name: web
address: {socket_address: {address: 127.0.0.1, port_value: 80}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: ingress
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
`
)

func TestDecodeListener(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Listener
	}{{
		name: "tcp proxy with default idle timeout",
		yaml: tcpListener + "      cluster: be\n",
		want: &Listener{Name: "web", Address: "0.0.0.0:8080",
			FilterChains: []FilterChain{{TCP: &TCPProxy{StatPrefix: "web", Cluster: "be", IdleTimeout: time.Hour}}}},
	}, {
		name: "tcp proxy weighted without idle timeout",
		yaml: tcpListener + `      idle_timeout: 0s
      weighted_clusters:
        clusters: [{name: a, weight: 3}, {name: b, weight: 1}]
`,
		want: &Listener{Name: "web", Address: "0.0.0.0:8080",
			FilterChains: []FilterChain{{TCP: &TCPProxy{StatPrefix: "web", Weighted: []WeightedCluster{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}}}}}},
	}, {
		name: "ipv6 address and empty filter_chain_match",
		yaml: `
name: v6
address: {socket_address: {address: "::1", port_value: 443}}
filter_chains:
- filter_chain_match: {}
  filters:
  - name: tcp
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: v6
      cluster: be
`,
		want: &Listener{Name: "v6", Address: "[::1]:443",
			FilterChains: []FilterChain{{TCP: &TCPProxy{StatPrefix: "v6", Cluster: "be", IdleTimeout: time.Hour}}}},
	}, {
		name: "http with rds and options",
		yaml: httpListener + `      codec_type: HTTP1
      rds: {route_config_name: main, config_source: {ads: {}}}
      stream_idle_timeout: 30s
      request_timeout: 10s
      request_headers_timeout: 3s
      use_remote_address: true
      http_protocol_options: {accept_http_10: true, default_host_for_http_10: legacy.local}
`,
		want: &Listener{Name: "web", Address: "127.0.0.1:80", FilterChains: []FilterChain{{HTTP: &HTTPManager{GenerateRequestID: true,
			StatPrefix: "ingress", RDSName: "main", StreamIdleTimeout: 30 * time.Second,
			RequestTimeout: 10 * time.Second, RequestHeadersTimeout: 3 * time.Second, UseRemoteAddress: true,
			AcceptHTTP10: true, DefaultHostHTTP10: "legacy.local", Codec: spec.CodecHTTP1}}}},
	}, {
		name: "http2 codec and options",
		yaml: httpListener + `      codec_type: HTTP2
      rds: {route_config_name: main, config_source: {ads: {}}}
      http2_protocol_options:
        max_concurrent_streams: 7
        initial_stream_window_size: 65535
        initial_connection_window_size: 1048576
        allow_connect: true
`,
		want: &Listener{Name: "web", Address: "127.0.0.1:80", FilterChains: []FilterChain{{HTTP: &HTTPManager{
			StatPrefix: "ingress", RDSName: "main", StreamIdleTimeout: 5 * time.Minute, RequestHeadersTimeout: 10 * time.Second,
			GenerateRequestID: true, Codec: spec.CodecHTTP2, HTTP2: spec.HTTP2Options{MaxConcurrentStreams: 7, InitialStreamWindowSize: 65535,
				InitialConnectionWindowSize: 1 << 20, AllowConnect: true}}}}},
	}, {
		name: "request_headers_timeout 0s disables it",
		yaml: httpListener + `      rds: {route_config_name: main, config_source: {ads: {}}}
      request_headers_timeout: 0s
`,
		want: &Listener{Name: "web", Address: "127.0.0.1:80", FilterChains: []FilterChain{{HTTP: &HTTPManager{GenerateRequestID: true,
			StatPrefix: "ingress", RDSName: "main", StreamIdleTimeout: 5 * time.Minute}}}},
	}, {
		name: "http with inline routes and defaults",
		yaml: httpListener + `      route_config:
        name: local
        virtual_hosts:
        - name: all
          domains: ["*"]
          routes: [{match: {prefix: /}, route: {cluster: be}}]
`,
		want: &Listener{Name: "web", Address: "127.0.0.1:80", FilterChains: []FilterChain{{HTTP: &HTTPManager{GenerateRequestID: true,
			StatPrefix: "ingress", StreamIdleTimeout: 5 * time.Minute, RequestHeadersTimeout: 10 * time.Second,
			Routes: &RouteConfig{Name: "local", VirtualHosts: []VirtualHost{{
				Name: "all", Domains: []string{"*"},
				Routes: []Route{{
					Match:  RouteMatch{Kind: PathPrefix, Path: "/", CaseSensitive: true},
					Action: &RouteAction{Cluster: "be", Timeout: 15 * time.Second},
				}},
			}}},
		}}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeListener(fromYAML(t, tt.yaml, &listenerv3.Listener{}))
			if err != nil {
				t.Fatalf("DecodeListener: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeListener mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListenerTrafficDirection: traffic_direction INBOUND marks the
// listener for /drain_listeners?inboundonly; OUTBOUND and unset do not.
func TestListenerTrafficDirection(t *testing.T) {
	for dir, want := range map[string]bool{"INBOUND": true, "OUTBOUND": false, "UNSPECIFIED": false} {
		l := fromYAML(t, tcpListener+"      cluster: be\ntraffic_direction: "+dir+"\n", &listenerv3.Listener{})
		got, err := DecodeListener(l)
		if err != nil {
			t.Fatal(err)
		}
		if got.Inbound != want {
			t.Errorf("traffic_direction %s: Inbound = %v, want %v", dir, got.Inbound, want)
		}
	}
}
