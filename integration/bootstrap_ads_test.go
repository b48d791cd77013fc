package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// adsBootstrap is a bootstrap that takes everything but the control
// servers' cluster over ADS, as the given node.
func adsBootstrap(apiType, node string, adminPort, xdsPort int) string {
	return fmt.Sprintf(`node: { id: %s, cluster: %s }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: %d } }
dynamic_resources:
  ads_config:
    api_type: %s
    transport_api_version: V3
    grpc_services: [{ envoy_grpc: { cluster_name: xds } }]
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
  - name: xds
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }
`, node, node, adminPort, apiType, xdsPort)
}

// TestBootstrapADS: a sidecar configured only by a bootstrap file finds its
// control server through dynamic_resources.ads_config (state of the world
// and incremental), takes listeners and clusters over ADS (lds_config,
// cds_config) as the node named by node.id, and serves the mesh's traffic.
func TestBootstrapADS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startBackend(t, "a")
	m := &mesh{path: filepath.Join(t.TempDir(), "services.yaml"), webPort: freePort(t), echoPort: freePort(t),
		xdsPort: freePort(t), echoBackend: startEcho(t)}
	writeFile(t, m.path, m.services(a))
	m.control = start(t, "control", "control", "--services", m.path, "--xds-addr", fmt.Sprintf("127.0.0.1:%d", m.xdsPort))
	for _, apiType := range []string{"GRPC", "DELTA_GRPC"} {
		t.Run(apiType, func(t *testing.T) {
			admin := freePort(t)
			path := filepath.Join(t.TempDir(), "envoy.yaml")
			if err := os.WriteFile(path, []byte(adsBootstrap(apiType, "client", admin, m.xdsPort)), 0o644); err != nil {
				t.Fatal(err)
			}
			p := start(t, "sidecar", "sidecar", "--config", path)
			waitReady(t, admin)
			client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer client.CloseIdleConnections()
			eventually(t, "traffic to a", func() bool { return seenAll(client, m.webURL(), a) })
			client.CloseIdleConnections()
			p.stop()
		})
	}
}
