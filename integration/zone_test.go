package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// zoneBootstrap is a bootstrap whose node is in zone a, with
// cluster_manager.local_cluster_name "self" (2 endpoints in zone a, 1 in
// b) and an HTTP listener to cluster "be" with endpoints in zones a and b.
func zoneBootstrap(adminPort, httpPort int, a, b []*backend) string {
	locality := func(zone string, ports ...int) string {
		var s strings.Builder
		fmt.Fprintf(&s, "      - locality: { region: r, zone: %s }\n        lb_endpoints:\n", zone)
		for _, p := range ports {
			fmt.Fprintf(&s, "        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }\n", p)
		}
		return s.String()
	}
	ports := func(bs []*backend) []int {
		var out []int
		for _, b := range bs {
			out = append(out, b.port)
		}
		return out
	}
	return fmt.Sprintf(`node: { id: zoned, cluster: self, locality: { region: r, zone: a } }
cluster_manager: { local_cluster_name: self }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: %d } }
static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: %d } }
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          route_config:
            virtual_hosts:
            - { name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: be } }] }
          http_filters:
          - { name: router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }
  clusters:
  - name: be
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: be
      endpoints:
%s%s  - name: self
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: self
      endpoints:
%s%s`, adminPort, httpPort, locality("a", ports(a)...), locality("b", ports(b)...),
		locality("a", 1001, 1002), locality("b", 1003))
}

// A sidecar started from an Envoy bootstrap with node.locality and
// cluster_manager.local_cluster_name routes zone aware as Envoy: the local
// cluster has 2/3 of its endpoints in the node's zone a, the upstream 1/3
// (2 of 6), so half the requests stay in a and half cross to b, and the
// sidecar counts them in lb_zone_routing_sampled and _cross_zone.
func TestZoneAwareBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := []*backend{startBackend(t, "a"), startBackend(t, "a")}
	b := []*backend{startBackend(t, "b"), startBackend(t, "b"), startBackend(t, "b"), startBackend(t, "b")}
	adminPort, httpPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(path, []byte(zoneBootstrap(adminPort, httpPort, a, b)), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "sidecar", "sidecar", "--config", path)
	waitReady(t, adminPort)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	const n = 600
	count := map[string]int{}
	for range n {
		code, body, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/", httpPort))
		if err != nil || code != 200 {
			t.Fatalf("GET: %d %v", code, err)
		}
		count[body]++
	}
	_, st, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/stats", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	var zoneStats []string
	for _, l := range strings.Split(st, "\n") {
		if strings.HasPrefix(l, "cluster.be.lb_zone_routing") || strings.HasPrefix(l, "cluster.be.lb_recalculate") {
			zoneStats = append(zoneStats, l)
		}
	}
	t.Logf("%d requests: zone a %d, zone b %d; %v", n, count["a"], count["b"], zoneStats)
	if share := 100 * count["a"] / n; share < 48 || share > 52 {
		t.Errorf("zone a got %d%% of requests, want 50%% ± 2", share)
	}
	for _, want := range []string{"cluster.be.lb_zone_routing_sampled: 300", "cluster.be.lb_zone_routing_cross_zone: 300"} {
		if !strings.Contains(st, want+"\n") {
			t.Errorf("/stats lacks %q: %v", want, zoneStats)
		}
	}
}
