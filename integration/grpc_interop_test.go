package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// interopCases are the grpc-go interop cases run through the sidecar
// (issue 11).
var interopCases = []string{
	"empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
	"timeout_on_sleeping_server", "cancel_after_begin", "cancel_after_first_response",
	"status_code_and_message", "special_status_message", "custom_metadata",
	"unimplemented_method", "unimplemented_service",
}

// TestGRPCInterop runs grpc-go's interop client against its interop
// server (both built from the grpc module at the version in go.mod)
// through a real sidecar: h2c from the client to the sidecar (codec_type
// HTTP2), HTTP/2 with prior knowledge from the sidecar to the server
// (explicit_http_config http2_protocol_options). Every case must pass.
func TestGRPCInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	server, client := buildInterop(t)
	serverPort, adminPort, httpPort := freePort(t), freePort(t), freePort(t)
	runBackground(t, "interop server", server, fmt.Sprintf("--port=%d", serverPort), "--use_tls=false")
	waitListening(t, serverPort)
	config := filepath.Join(t.TempDir(), "envoy.yaml")
	writeFile(t, config, interopBootstrap(adminPort, httpPort, serverPort))
	start(t, "sidecar", "sidecar", "--config", config)
	waitReady(t, adminPort)
	for _, tc := range interopCases {
		t.Run(tc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, client, "--server_host=127.0.0.1", fmt.Sprintf("--server_port=%d", httpPort),
				"--use_tls=false", "--test_case="+tc).CombinedOutput()
			if err != nil {
				t.Errorf("interop client %s: %v\n%s", tc, err, out)
			}
		})
	}
}

// buildInterop builds grpc-go's interop server and client in the grpc
// module's own directory (its go.mod pins their dependencies), at the
// version this module requires.
func buildInterop(t *testing.T) (server, client string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/grpc").Output()
	if err != nil {
		t.Fatalf("finding the grpc module: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./interop/server", "./interop/client")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false -mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the grpc interop binaries in %s: %v\n%s", dir, err, out)
	}
	return filepath.Join(bin, "server"), filepath.Join(bin, "client")
}

// runBackground runs a program for the test's duration.
func runBackground(t *testing.T, name, path string, args ...string) {
	t.Helper()
	log := &syncBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, log.String())
		}
	})
}

// waitListening waits until something accepts connections on port.
func waitListening(t *testing.T, port int) {
	t.Helper()
	eventually(t, fmt.Sprintf("port %d listening", port), func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// interopBootstrap is a sidecar serving h2c on httpPort, routing
// everything (no route timeout; grpc-timeout honoured) to an HTTP/2
// cluster at backendPort.
func interopBootstrap(adminPort, httpPort, backendPort int) string {
	return fmt.Sprintf(`node: { id: interop, cluster: interop }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: %d } }
static_resources:
  listeners:
  - name: grpc
    address: { socket_address: { address: 127.0.0.1, port_value: %d } }
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: grpc
          codec_type: HTTP2
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: be, timeout: 0s, max_stream_duration: { grpc_timeout_header_max: 0s } }
          http_filters:
          - name: router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: be
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: be
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }
`, adminPort, httpPort, backendPort)
}
