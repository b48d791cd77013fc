package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTypedProtocolOptionsIdleTimeout: a cluster's
// typed_extension_protocol_options (HttpProtocolOptions) with
// common_http_protocol_options.idle_timeout closes the idle pooled
// upstream connection, as the cluster-level field does.
func TestTypedProtocolOptionsIdleTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := startSlowBackend(t, 0)
	b := staticBootstrap{adminPort: freePort(t), httpPort: freePort(t), routeTimeout: "15s", backends: []int{be.port},
		clusterExtra: `    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: { idle_timeout: 0.3s }
        explicit_http_config: { http_protocol_options: {} }
`}
	start(t, "sidecar", "sidecar", "--config", b.write(t))
	waitReady(t, b.adminPort)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	if code, body, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/", b.httpPort)); err != nil || code != 200 {
		t.Fatalf("request: %d %q %v", code, body, err)
	}
	stats := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats", b.adminPort))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}
	if s := stats(); !strings.Contains(s, "cluster.be.upstream_cx_active: 1") {
		t.Fatalf("after the request, /stats lacks cluster.be.upstream_cx_active: 1:\n%s", s)
	}
	took := eventually(t, "the idle upstream connection closed", func() bool {
		return strings.Contains(stats(), "cluster.be.upstream_cx_active: 0")
	})
	if took > 5*time.Second {
		t.Errorf("the idle connection closed after %v, want about 0.3s", took)
	}
}
