package sidecar

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// delayedBackend answers every request after delay, counting them.
func delayedBackend(t *testing.T, delay time.Duration) (string, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		time.Sleep(delay)
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://"), &n
}

// policyBootstrap is a listener at addr routing to cluster "be" (hashing
// header x-key), whose policy lines (YAML, indented 4) are given, over
// the backends.
func policyBootstrap(addr, policy string, backends ...string) string {
	host, port, _ := net.SplitHostPort(addr)
	var eps strings.Builder
	for _, b := range backends {
		h, p, _ := net.SplitHostPort(b)
		fmt.Fprintf(&eps, "        - endpoint: {address: {socket_address: {address: %s, port_value: %s}}}\n", h, p)
	}
	return fmt.Sprintf(`
static_resources:
  listeners:
  - name: web
    address: {socket_address: {address: %s, port_value: %s}}
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            virtual_hosts:
            - {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: be, hash_policy: [{header: {header_name: x-key}}]}}]}
  clusters:
  - name: be
    connect_timeout: 1s
%s
    load_assignment:
      cluster_name: be
      endpoints:
      - lb_endpoints:
%s`, host, port, policy, eps.String())
}

// TestTypedPolicyThroughSockets: the load_balancing_policy typed
// extensions reach the data plane. Peak EWMA (our TypedStruct type URL)
// sends almost nothing to a backend 100ms slower (default_rtt 1ms, so an
// endpoint not yet measured is tried; decay_time 1s, so a latency spike
// of the fast one on a loaded machine passes); least_request from its
// typed config with choice_count; maglev from its typed config keeps a
// key on one backend.
func TestTypedPolicyThroughSockets(t *testing.T) {
	const ext = "    load_balancing_policy: {policies: [{typed_extension_config: {name: p, typed_config: %s}}]}"
	tests := []struct {
		name, typed string
		header      string // sent with value k1
		check       func(fast, slow int64) error
	}{
		{"peak_ewma", `{"@type": type.googleapis.com/xds.type.v3.TypedStruct, type_url: type.googleapis.com/meshlb.load_balancing_policies.peak_ewma.v1.PeakEwma, value: {decay_time: 1s, default_rtt: 0.001s}}`, "x-other",
			func(fast, slow int64) error {
				if slow > 10 {
					return fmt.Errorf("slow backend got %d of 100 requests, want at most 10", slow)
				}
				return nil
			}},
		{"maglev", `{"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev, table_size: 1021}`, "x-key",
			func(fast, slow int64) error {
				if fast != 0 && slow != 0 {
					return fmt.Errorf("one key went to both backends (%d, %d)", fast, slow)
				}
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			fast, fastN := delayedBackend(t, 0)
			slow, slowN := delayedBackend(t, 100*time.Millisecond)
			addr := freeAddr(t)
			applyBootstrap(t, s, policyBootstrap(addr, fmt.Sprintf(ext, tt.typed), fast, slow))
			if got := string(s.Snapshot().Set.Clusters[0].LBPolicy); got != tt.name {
				t.Fatalf("policy = %q, want %q", got, tt.name)
			}
			cl := newClient()
			defer cl.CloseIdleConnections()
			for range 100 {
				if code, _, _ := do(t, cl, "http://"+addr+"/", tt.header, "k1"); code != 200 {
					t.Fatalf("status %d", code)
				}
			}
			t.Logf("%s: fast %d, slow %d of 100", tt.name, fastN.Load(), slowN.Load())
			if err := tt.check(fastN.Load(), slowN.Load()); err != nil {
				t.Error(err)
			}
		})
	}
}
