package sidecar

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/l7"
)

// filterUpstream is a loopback upstream that answers with the request's
// path and x-shadow header, and counts requests.
type filterUpstream struct {
	addr string
	hits atomic.Int64
}

func newFilterUpstream(t *testing.T) *filterUpstream {
	u := &filterUpstream{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		fmt.Fprintf(w, "%s shadow=%s seen=%s", r.URL.Path, r.Header.Get("x-shadow"), strings.Join(r.Header.Values("x-seen"), ","))
	}))
	t.Cleanup(s.Close)
	u.addr = strings.TrimPrefix(s.URL, "http://")
	return u
}

// filterBootstrap is a static bootstrap: one HTTP listener on addr whose
// http_filters are filters (YAML list items indented 10 spaces) then the
// router, one virtual host with vhost (extra fields, 14 spaces) and
// routes (14 spaces), and cluster "be" at upstream.
func filterBootstrap(addr, upstream, filters, vhost, routes string) string {
	host, port, _ := net.SplitHostPort(addr)
	uhost, uport, _ := net.SplitHostPort(upstream)
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
%s
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
%s
              routes:
%s
  clusters:
  - name: be
    connect_timeout: 1s
    load_assignment:
      cluster_name: be
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: %s, port_value: %s}}}}]}]
`, host, port, filters, vhost, routes, uhost, uport)
}

const (
	rlFilter    = "          - name: rl\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n              stat_prefix: rl\n"
	faultFilter = "          - name: fault\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault\n"
	allRoute    = "              - {match: {prefix: /}, route: {cluster: be}}"
	on          = "{default_value: {numerator: 100}}"
)

// filterSidecar applies a bootstrap built by filterBootstrap to a new
// sidecar and returns the listener's address.
func filterSidecar(t *testing.T, s *Sidecar, up *filterUpstream, filters, vhost, routes string) string {
	t.Helper()
	addr := freeAddr(t)
	applyBootstrap(t, s, filterBootstrap(addr, up.addr, filters, vhost, routes))
	return addr
}

func applyBootstrap(t *testing.T, s *Sidecar, yaml string) {
	t.Helper()
	b, err := config.ParseBootstrap("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("ParseBootstrap: %v\n%s", err, yaml)
	}
	if err := s.Apply(&b.Static); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// reply is what a client got.
type reply struct {
	status int
	body   string
	header http.Header
	took   time.Duration
}

func send(t *testing.T, addr, path string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header, time.Since(start)}
}

// statuses sends n requests to path and returns their statuses.
func statuses(t *testing.T, addr, path string, n int) []int {
	var out []int
	for range n {
		out = append(out, send(t, addr, path).status)
	}
	return out
}

func httpStats(s *Sidecar) *l7.Stats {
	return s.current.Load().Listeners["web"].Chains[0].HTTP.Config().Stats
}

func TestLocalRateLimitThroughSockets(t *testing.T) {
	bucket := func(max int) string {
		return fmt.Sprintf("              token_bucket: {max_tokens: %d, tokens_per_fill: 1, fill_interval: 3600s}\n", max)
	}
	tests := []struct {
		name, filters, vhost, routes string
		path                         string
		want                         []int
	}{
		{name: "enforced", filters: rlFilter + bucket(2) + "              filter_enabled: " + on + "\n              filter_enforced: " + on,
			routes: allRoute, path: "/", want: []int{200, 200, 429, 429}},
		{name: "filter_enabled unset: disabled", filters: rlFilter + bucket(1) + "              filter_enforced: " + on,
			routes: allRoute, path: "/", want: []int{200, 200, 200}},
		{name: "filter_enabled 0%", filters: rlFilter + bucket(1) + "              filter_enabled: {default_value: {numerator: 0}}\n              filter_enforced: " + on,
			routes: allRoute, path: "/", want: []int{200, 200, 200}},
		{name: "filter_enforced unset: shadow", filters: rlFilter + bucket(1) + "              filter_enabled: " + on,
			routes: allRoute, path: "/", want: []int{200, 200, 200}},
		{name: "status", filters: rlFilter + bucket(1) + "              filter_enabled: " + on + "\n              filter_enforced: " + on + "\n              status: {code: ServiceUnavailable}",
			routes: allRoute, path: "/", want: []int{200, 503}},
		{name: "per-route bucket", filters: rlFilter, path: "/limited", want: []int{200, 429},
			routes: `              - match: {prefix: /limited}
                route: {cluster: be}
                typed_per_filter_config:
                  rl:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                    stat_prefix: limited
                    token_bucket: {max_tokens: 1, fill_interval: 3600s}
                    filter_enabled: ` + on + `
                    filter_enforced: ` + on + "\n" + allRoute},
		{name: "other routes unlimited", filters: rlFilter, path: "/", want: []int{200, 200, 200},
			routes: `              - match: {prefix: /limited}
                route: {cluster: be}
                typed_per_filter_config:
                  rl: {"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: l, token_bucket: {max_tokens: 1, fill_interval: 3600s}, filter_enabled: ` + on + `, filter_enforced: ` + on + `}
` + allRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			addr := filterSidecar(t, s, newFilterUpstream(t), tt.filters, tt.vhost, tt.routes)
			got := statuses(t, addr, tt.path, len(tt.want))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("statuses %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLocalRateLimitReplyThroughSockets shows the limited reply: its body,
// x-envoy-ratelimited, response_headers_to_add, and the request headers
// added when the limit is not enforced.
func TestLocalRateLimitReplyThroughSockets(t *testing.T) {
	s := newSidecar(t)
	up := newFilterUpstream(t)
	addr := filterSidecar(t, s, up, rlFilter+`              token_bucket: {max_tokens: 1, fill_interval: 3600s}
              filter_enabled: `+on+`
              filter_enforced: `+on+`
              response_headers_to_add: [{header: {key: x-local-rate-limit, value: "yes"}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]`, "", allRoute)
	send(t, addr, "/")
	r := send(t, addr, "/")
	if r.status != 429 || r.body != "local_rate_limited" || r.header.Get("x-envoy-ratelimited") != "true" || r.header.Get("x-local-rate-limit") != "yes" {
		t.Errorf("limited reply: %d %q %v", r.status, r.body, r.header)
	}
	if n := up.hits.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
	if n := httpStats(s).Rq4xx.Load(); n != 1 {
		t.Errorf("downstream_rq_4xx = %d, want 1", n)
	}

	addr = filterSidecar(t, s, up, rlFilter+`              token_bucket: {max_tokens: 1, fill_interval: 3600s}
              filter_enabled: `+on+`
              request_headers_to_add_when_not_enforced: [{header: {key: x-shadow, value: limited}}]`, "", allRoute)
	if r := send(t, addr, "/"); r.body != "/ shadow= seen=" {
		t.Errorf("first request: %q", r.body)
	}
	if r := send(t, addr, "/"); r.status != 200 || r.body != "/ shadow=limited seen=" {
		t.Errorf("limited, not enforced: %d %q, want 200 with x-shadow", r.status, r.body)
	}
}

// TestLocalRateLimitRefill shows tokens_per_fill tokens coming back each
// fill_interval.
func TestLocalRateLimitRefill(t *testing.T) {
	s := newSidecar(t)
	addr := filterSidecar(t, s, newFilterUpstream(t), rlFilter+`              token_bucket: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 0.2s}
              filter_enabled: `+on+`
              filter_enforced: `+on, "", allRoute)
	if got := statuses(t, addr, "/", 3); fmt.Sprint(got) != "[200 200 429]" {
		t.Fatalf("statuses %v, want [200 200 429]", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for send(t, addr, "/").status != 200 {
		if ctx.Err() != nil {
			t.Fatal("no token came back within 3s of a 0.2s fill_interval")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := send(t, addr, "/").status; got != 200 {
		t.Errorf("second token of the fill: %d, want 200", got)
	}
}

// TestLocalRateLimitVirtualHost shows a virtual host's per-filter config
// shared by its routes, and a route's own winning over it.
func TestLocalRateLimitVirtualHost(t *testing.T) {
	s := newSidecar(t)
	limit := func(max int) string {
		return fmt.Sprintf(`{"@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, stat_prefix: l, token_bucket: {max_tokens: %d, fill_interval: 3600s}, filter_enabled: %s, filter_enforced: %s}`, max, on, on)
	}
	addr := filterSidecar(t, s, newFilterUpstream(t), rlFilter,
		"              typed_per_filter_config: {rl: "+limit(1)+"}",
		"              - {match: {prefix: /own}, route: {cluster: be}, typed_per_filter_config: {rl: "+limit(2)+"}}\n"+allRoute)
	got := []int{send(t, addr, "/a").status, send(t, addr, "/b").status, send(t, addr, "/own").status, send(t, addr, "/own").status, send(t, addr, "/own").status}
	if fmt.Sprint(got) != "[200 429 200 200 429]" {
		t.Errorf("statuses /a /b /own×3 = %v, want [200 429 200 200 429]", got)
	}
}

// TestLocalRateLimitSurvivesUpdate shows a bucket kept across snapshots
// while its limit is unchanged: an unrelated update does not refill it.
func TestLocalRateLimitSurvivesUpdate(t *testing.T) {
	s := newSidecar(t)
	up := newFilterUpstream(t)
	addr := freeAddr(t)
	filters := rlFilter + "              token_bucket: {max_tokens: 1, fill_interval: 3600s}\n              filter_enabled: " + on + "\n              filter_enforced: " + on
	applyBootstrap(t, s, filterBootstrap(addr, up.addr, filters, "", allRoute))
	if got := statuses(t, addr, "/", 2); fmt.Sprint(got) != "[200 429]" {
		t.Fatalf("statuses %v", got)
	}
	applyBootstrap(t, s, filterBootstrap(addr, up.addr, filters, "", allRoute+"\n              - {match: {prefix: /x}, route: {cluster: be}}"))
	if got := send(t, addr, "/").status; got != 429 {
		t.Errorf("after an unrelated update: %d, want 429 (bucket kept)", got)
	}
	applyBootstrap(t, s, filterBootstrap(addr, up.addr, strings.Replace(filters, "max_tokens: 1", "max_tokens: 2", 1), "", allRoute))
	if got := send(t, addr, "/").status; got != 200 {
		t.Errorf("after the limit changed: %d, want 200 (new bucket)", got)
	}
}
