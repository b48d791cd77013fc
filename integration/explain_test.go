package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// explainBootstrap has an HTTP listener routing host api to cluster
// canary when x-canary is 1, else to be; connections from 10.0.0.0/8 take
// a TCP chain to be instead. The admin and the listener bind port 0.
func explainBootstrap(be, canary int) string {
	return fmt.Sprintf(`node: {id: explain, cluster: explain}
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 0}}
static_resources:
  listeners:
  - name: web
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - name: tcp-from-ten
      filter_chain_match: {source_prefix_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]}
      filters:
      - name: tcp
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcp, cluster: be}
    default_filter_chain:
      filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            virtual_hosts:
            - name: api
              domains: [api]
              routes:
              - {name: canary, match: {prefix: /, headers: [{name: x-canary, string_match: {exact: "1"}}]}, route: {cluster: canary}}
              - {name: default, match: {prefix: /}, route: {cluster: be}}
  clusters:
  - {name: be, connect_timeout: 1s, load_assignment: {cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}}
  - {name: canary, connect_timeout: 1s, load_assignment: {cluster_name: canary, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}}
`, be, canary)
}

var adminLine = regexp.MustCompile(`msg="admin listening" address=(127\.0\.0\.1:\d+)`)

// TestExplain runs a real sidecar, asks `meshlb explain --admin` where
// requests and a connection go, and checks the answer against where a
// real request goes.
func TestExplain(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	be, canary := startBackend(t, "be"), startBackend(t, "canary")
	cfg := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(cfg, []byte(explainBootstrap(be.port, canary.port)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "sidecar", "sidecar", "--config", cfg)
	var admin string
	eventually(t, "the admin address in the sidecar's log", func() bool {
		m := adminLine.FindStringSubmatch(p.log.String())
		if m != nil {
			admin = m[1]
		}
		return m != nil
	})
	eventually(t, "/ready", func() bool {
		code, _, err := httpGet(http.DefaultClient, "http://"+admin+"/ready")
		return err == nil && code == 200
	})

	out, err := runMeshlb("explain", "--admin", admin, "GET http://api/users/7", "-H", "x-canary: 1", "--from", "127.0.0.2:4711")
	if err != nil {
		t.Fatalf("meshlb explain: %v\n%s", err, out)
	}
	canaryEP := fmt.Sprintf("127.0.0.1:%d", canary.port)
	for _, want := range []string{
		`filter chain  (unnamed) (default_filter_chain), http_connection_manager`,
		`route         [0] "canary" prefix "/", header x-canary exact "1" -> matched`,
		`outcome       to cluster "canary", endpoint ` + canaryEP,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}

	out, err = runMeshlb("explain", "--admin", admin, "--json", "GET", "http://api/users/7", "-H", "x-canary: 1")
	if err != nil {
		t.Fatalf("meshlb explain --json: %v\n%s", err, out)
	}
	var r struct {
		Request  struct{ To string }
		Clusters []struct{ Pick struct{ Endpoint string } }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Clusters) != 1 || r.Clusters[0].Pick.Endpoint != canaryEP {
		t.Fatalf("explain --json = %v, %+v:\n%s", err, r, out)
	}
	// The request explained goes where explain said.
	req, _ := http.NewRequest("GET", "http://"+r.Request.To+"/users/7", nil)
	req.Host = "api"
	req.Header.Set("x-canary", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if canary.hits.Load() != 1 || be.hits.Load() != 0 {
		t.Errorf("hits: canary %d, be %d; want the request where explain said", canary.hits.Load(), be.hits.Load())
	}

	out, err = runMeshlb("explain", "--admin", admin, "tcp://"+r.Request.To, "--from", "10.0.0.5:4711")
	if err != nil {
		t.Fatalf("meshlb explain tcp: %v\n%s", err, out)
	}
	for _, want := range []string{`filter chain  "tcp-from-ten" (filter_chains[0]), tcp_proxy`,
		fmt.Sprintf(`outcome       to cluster "be", endpoint 127.0.0.1:%d`, be.port)} {
		if !strings.Contains(out, want) {
			t.Errorf("explain tcp output lacks %q:\n%s", want, out)
		}
	}
}
