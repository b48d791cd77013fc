package admin

import (
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
