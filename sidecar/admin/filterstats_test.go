package admin

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestHTTPFilterStats shows the HTTP filters' counters in /stats and
// /stats/prometheus under Envoy's names.
func TestHTTPFilterStats(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	all := spec.Fraction{Numerator: 100, Denominator: 100}
	routes := &config.RouteConfig{Name: "r", VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"},
		Routes: []config.Route{{Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/"}, Direct: &config.DirectResponse{Status: 200, Body: "ok"}}}}}}
	hcm := &config.HTTPManager{StatPrefix: "in", Routes: routes, Filters: []spec.HTTPFilter{
		{Name: "fault", TypeURL: httpfilter.FaultType, Config: &spec.Fault{Abort: &spec.FaultAbort{FromHeader: true, Percent: all}}},
		{Name: "rl", TypeURL: httpfilter.LocalRateLimitType, Config: &spec.HTTPLocalRateLimit{StatPrefix: "rl", Status: 429, Enabled: all, Enforced: all,
			Bucket: &spec.TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: time.Hour}}},
	}}
	set := &config.Set{Listeners: []config.Listener{{Name: "web", Address: "127.0.0.1:0", FilterChains: []config.FilterChain{{HTTP: hcm}}}}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	url := "http://" + sc.Addresses()["web"] + "/"
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for _, abort := range []string{"503", "", ""} {
		req, _ := http.NewRequest("GET", url, nil)
		if abort != "" {
			req.Header.Set("x-envoy-fault-abort-request", abort)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	h := Handler(sc)
	for path, want := range map[string][]string{
		"/stats": {"http.in.fault.aborts_injected: 1", "http.in.fault.delays_injected: 0",
			"rl.http_local_rate_limit.enabled: 2", "rl.http_local_rate_limit.ok: 1", "rl.http_local_rate_limit.rate_limited: 1", "rl.http_local_rate_limit.enforced: 1"},
		"/stats/prometheus": {`envoy_http_fault_aborts_injected{envoy_http_conn_manager_prefix="in"} 1`,
			`envoy_http_local_rate_limit_rate_limited{envoy_local_http_ratelimit_prefix="rl"} 1`},
	} {
		_, body := get(t, h, path)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", path, w, body)
			}
		}
	}
}

// TestRBACStats shows the RBAC filters' counters in /stats and
// /stats/prometheus: the HTTP filter's under its connection manager's
// prefix, the network filter's under its stat_prefix.
func TestRBACStats(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	routes := &config.RouteConfig{Name: "r", VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"},
		Routes: []config.Route{{Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/"}, Direct: &config.DirectResponse{Status: 200, Body: "ok"}}}}}}
	admin := &spec.RBACRules{Action: spec.RBACDeny, Policies: []spec.RBACPolicy{{Name: "admin",
		Permissions: []spec.Permission{{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/admin"}}},
		Principals:  []spec.Principal{{Kind: spec.PrinAny}}}}}
	hcm := &config.HTTPManager{StatPrefix: "in", Routes: routes, Filters: []spec.HTTPFilter{
		{Name: "rbac", TypeURL: spec.HTTPRBACType, Config: &spec.RBAC{Rules: admin}}}}
	chain := config.FilterChain{HTTP: hcm, Filters: []spec.NetworkFilter{{Name: "rbac", TypeURL: spec.NetworkRBACType,
		Config: &spec.RBAC{StatPrefix: "connect_authz", Rules: &spec.RBACRules{Action: spec.RBACDeny}}}}}
	set := &config.Set{Listeners: []config.Listener{{Name: "web", Address: "127.0.0.1:0", FilterChains: []config.FilterChain{chain}}}}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for _, path := range []string{"/", "/admin"} {
		resp, err := c.Get("http://" + sc.Addresses()["web"] + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // so the connection is reused
		resp.Body.Close()
	}
	h := Handler(sc)
	for path, want := range map[string][]string{
		"/stats": {"http.in.rbac.allowed: 1", "http.in.rbac.denied: 1", "connect_authz.rbac.allowed: 1", "connect_authz.rbac.denied: 0"},
		"/stats/prometheus": {`envoy_http_rbac_allowed{envoy_http_conn_manager_prefix="in"} 1`,
			`envoy_http_rbac_denied{envoy_http_conn_manager_prefix="in"} 1`, "envoy_connect_authz_rbac_allowed 1"},
	} {
		_, body := get(t, h, path)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", path, w, body)
			}
		}
	}
}
