package sidecar

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/config"
)

// consulGRPCBootstrap is a listener and cluster as Consul's xDS server
// makes them for a service of protocol grpc (recorded in integration
// TestConsulXDSResourcesDecode): grpc_stats and grpc_http1_bridge ahead
// of the router, HTTP/2 on both sides, and the route timeouts of
// local_request_timeout_ms and local_idle_timeout_ms. protocol is the
// cluster's HttpProtocolOptions: explicit_http_config on a caller's
// upstream cluster, use_downstream_protocol_config on local_app.
func consulGRPCBootstrap(addr, backend, protocol string) string {
	host, port, _ := net.SplitHostPort(addr)
	bhost, bport, _ := net.SplitHostPort(backend)
	return `static_resources:
  listeners:
  - name: public_listener
    address: {socket_address: {address: ` + host + `, port_value: ` + port + `}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: public_listener
          http2_protocol_options: {}
          tracing: {random_sampling: {}}
          http_filters:
          - name: envoy.filters.http.grpc_stats
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig, stats_for_all_methods: true}
          - name: envoy.filters.http.grpc_http1_bridge
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.grpc_http1_bridge.v3.Config}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            name: public_listener
            virtual_hosts:
            - name: public_listener
              domains: ["*"]
              routes: [{match: {prefix: /}, route: {cluster: local_app, timeout: 5.5s, idle_timeout: 4.5s}}]
  clusters:
  - name: local_app
    type: STATIC
    connect_timeout: 5s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        ` + protocol + `
    load_assignment:
      cluster_name: local_app
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: ` + bhost + `, port_value: ` + bport + `}}}}]}]
`
}

// consulGRPCSidecar serves g on a loopback listener and starts a sidecar
// with consulGRPCBootstrap in front of it, both stopped when t ends; it
// returns the sidecar and its listener's address.
func consulGRPCSidecar(t *testing.T, g *grpc.Server, protocol string) (*Sidecar, string) {
	t.Helper()
	ln := loopback.Listen(t)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	return consulSidecarFor(t, ln.Addr().String(), protocol)
}

// consulSidecarFor starts a sidecar with consulGRPCBootstrap in front of
// backend, stopped when t ends; it returns the sidecar and its
// listener's address.
func consulSidecarFor(t *testing.T, backend, protocol string) (*Sidecar, string) {
	t.Helper()
	s := New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { s.Close(time.Second) })
	addr := freeAddr(t)
	b, err := config.ParseBootstrap("consul-grpc.yaml", []byte(consulGRPCBootstrap(addr, backend, protocol)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(&b.Static); err != nil {
		t.Fatal(err)
	}
	return s, addr
}

// TestConsulGRPCFilters: Consul's listener for protocol grpc, with its
// grpc_stats and grpc_http1_bridge filters, carries gRPC calls (grpc-go
// client and server, h2c on both sides) to a cluster with either of the
// protocol options Consul gives (the server speaks HTTP/2 only); the
// sidecar counts the calls in grpc_stats. The bridge, which leaves HTTP/2
// calls alone, is TestConsulGRPCHTTP1Bridge's.
func TestConsulGRPCFilters(t *testing.T) {
	for _, protocol := range []string{
		"explicit_http_config: {http2_protocol_options: {}}",
		"use_downstream_protocol_config: {http_protocol_options: {}, http2_protocol_options: {}}",
	} {
		t.Run(strings.TrimSuffix(strings.Fields(protocol)[0], ":"), func(t *testing.T) { testConsulGRPCFilters(t, protocol) })
	}
}

func testConsulGRPCFilters(t *testing.T, protocol string) {
	g := grpc.NewServer()
	healthpb.RegisterHealthServer(g, health.NewServer())
	s, addr := consulGRPCSidecar(t, g, protocol)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health check through the sidecar: %v, %v", resp, err)
		}
	}
	// grpc_stats runs: Consul's stats_for_all_methods names the method.
	const p = "cluster.local_app.grpc.grpc.health.v1.Health.Check."
	c := s.Counters()
	if c[p+"success"] != 3 || c[p+"total"] != 3 || c[p+"request_message_count"] != 3 || c[p+"response_message_count"] != 3 {
		t.Errorf("grpc_stats: success %d, total %d, messages %d in, %d out; want 3 each",
			c[p+"success"], c[p+"total"], c[p+"request_message_count"], c[p+"response_message_count"])
	}
}
