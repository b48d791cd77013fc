package config

import (
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// oneRoute is a route configuration "rc" holding one virtual host "vh"
// for "*" with the one route given in YAML.
func oneRoute(t *testing.T, route string) *routev3.RouteConfiguration {
	t.Helper()
	indented := "  - " + strings.ReplaceAll(strings.TrimSpace(route), "\n", "\n    ")
	return fromYAML(t, "name: rc\nvirtual_hosts:\n- name: vh\n  domains: ['*']\n  routes:\n"+indented, &routev3.RouteConfiguration{})
}

// Defaults of a decoded route: the match and the action for cluster "be".
var (
	prefixRoot = RouteMatch{Kind: PathPrefix, Path: "/", CaseSensitive: true}
	toBE       = &RouteAction{Cluster: "be", Timeout: 15 * time.Second}
)

func TestDecodeRoute(t *testing.T) {
	tests := []struct {
		name  string
		route string
		want  Route
	}{{
		name:  "prefix to cluster",
		route: "name: r\nmatch: {prefix: /}\nroute: {cluster: be}",
		want:  Route{Name: "r", Match: prefixRoot, Action: toBE},
	}, {
		name:  "exact path case-insensitive",
		route: "match: {path: /a, case_sensitive: false}\nroute: {cluster: be}",
		want:  Route{Match: RouteMatch{Kind: PathExact, Path: "/a"}, Action: toBE},
	}, {
		name:  "regex path",
		route: "match: {safe_regex: {regex: '/v[0-9]+/.*'}}\nroute: {cluster: be}",
		want:  Route{Match: RouteMatch{Kind: PathRegex, Path: "/v[0-9]+/.*", CaseSensitive: true}, Action: toBE},
	}, {
		name:  "separated prefix and grpc",
		route: "match: {path_separated_prefix: /api, grpc: {}}\nroute: {cluster: be}",
		want:  Route{Match: RouteMatch{Kind: PathSeparatedPrefix, Path: "/api", CaseSensitive: true, GRPC: true}, Action: toBE},
	}, {
		name: "header matchers",
		route: `match:
  prefix: /
  headers:
  - {name: X-Exact, exact_match: a}
  - {name: x-sm, string_match: {prefix: p, ignore_case: true}}
  - {name: x-suffix, string_match: {suffix: s}}
  - {name: x-contains, string_match: {contains: c}, invert_match: true}
  - {name: x-re, safe_regex_match: {regex: 'a+'}}
  - {name: x-sre, string_match: {safe_regex: {regex: 'b+'}}}
  - {name: x-present, present_match: true}
  - {name: x-absent, present_match: false}
  - {name: x-none}
  - {name: ":method", string_match: {exact: GET}}
route: {cluster: be}`,
		want: Route{Match: RouteMatch{Kind: PathPrefix, Path: "/", CaseSensitive: true, Headers: []HeaderMatch{
			{Name: "x-exact", Match: StringMatch{Kind: MatchExact, Value: "a"}},
			{Name: "x-sm", Match: StringMatch{Kind: MatchPrefix, Value: "p", IgnoreCase: true}},
			{Name: "x-suffix", Match: StringMatch{Kind: MatchSuffix, Value: "s"}},
			{Name: "x-contains", Match: StringMatch{Kind: MatchContains, Value: "c"}, Invert: true},
			{Name: "x-re", Match: StringMatch{Kind: MatchRegex, Value: "a+"}},
			{Name: "x-sre", Match: StringMatch{Kind: MatchRegex, Value: "b+"}},
			{Name: "x-present", Match: StringMatch{Kind: MatchPresent}},
			{Name: "x-absent", Match: StringMatch{Kind: MatchPresent}, Invert: true},
			{Name: "x-none", Match: StringMatch{Kind: MatchPresent}},
			{Name: ":method", Match: StringMatch{Kind: MatchExact, Value: "GET"}},
		}}, Action: toBE},
	}, {
		name: "query matchers",
		route: `match:
  prefix: /
  query_parameters:
  - {name: debug, present_match: true}
  - {name: v, string_match: {exact: "2"}}
  - {name: any}
route: {cluster: be}`,
		want: Route{Match: RouteMatch{Kind: PathPrefix, Path: "/", CaseSensitive: true, Query: []QueryMatch{
			{Name: "debug", Match: StringMatch{Kind: MatchPresent}},
			{Name: "v", Match: StringMatch{Kind: MatchExact, Value: "2"}},
			{Name: "any", Match: StringMatch{Kind: MatchPresent}},
		}}, Action: toBE},
	}, {
		name: "action options",
		route: `match: {prefix: /}
route:
  cluster: be
  timeout: 0s
  prefix_rewrite: /v2/
  host_rewrite_literal: internal
  retry_policy: {retry_on: "5xx, connect-failure,,unavailable", per_try_timeout: 2s}`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Cluster: "be", PrefixRewrite: "/v2/", HostRewrite: "internal",
			Retry: &RetryPolicy{On: []string{"5xx", "connect-failure", "unavailable"}, NumRetries: 1, PerTry: 2 * time.Second}}},
	}, {
		name: "retries and weights",
		route: `match: {prefix: /}
route:
  weighted_clusters: {clusters: [{name: a, weight: 90}, {name: b, weight: 10}, {name: c}]}
  retry_policy: {retry_on: reset, num_retries: 0}`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Timeout: 15 * time.Second,
			Weighted: []WeightedCluster{{Name: "a", Weight: 90}, {Name: "b", Weight: 10}, {Name: "c", Weight: 0}},
			Retry:    &RetryPolicy{On: []string{"reset"}}}},
	}, {
		name: "grpc timeout header",
		route: `match: {prefix: /}
route:
  cluster: be
  max_stream_duration: {grpc_timeout_header_max: 30s, grpc_timeout_header_offset: 0.1s}`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Cluster: "be", Timeout: 15 * time.Second,
			GRPCTimeout: &spec.GRPCTimeout{Max: 30 * time.Second, Offset: 100 * time.Millisecond}}},
	}, {
		name: "grpc timeout header uncapped",
		route: `match: {prefix: /}
route: {cluster: be, max_stream_duration: {grpc_timeout_header_max: 0s}}`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Cluster: "be", Timeout: 15 * time.Second, GRPCTimeout: &spec.GRPCTimeout{}}},
	}, {
		name: "previous hosts predicate",
		route: `match: {prefix: /}
route:
  cluster: be
  retry_policy:
    retry_on: 5xx
    retry_host_predicate:
    - name: envoy.retry_host_predicates.previous_hosts
      typed_config: {"@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate}
    host_selection_retry_max_attempts: 5`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Cluster: "be", Timeout: 15 * time.Second,
			Retry: &RetryPolicy{On: []string{"5xx"}, NumRetries: 1, PreviousHosts: true, HostSelectionAttempts: 5}}},
	}, {
		name: "previous priorities retry priority",
		route: `match: {prefix: /}
route:
  cluster: be
  retry_policy:
    retry_on: 5xx
    retry_priority:
      name: envoy.retry_priorities.previous_priorities
      typed_config: {"@type": type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig, update_frequency: 2}`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Cluster: "be", Timeout: 15 * time.Second,
			Retry: &RetryPolicy{On: []string{"5xx"}, NumRetries: 1, PreviousPriorities: 2}}},
	}, {
		name: "hash policies",
		route: `match: {prefix: /}
route:
  cluster: be
  hash_policy:
  - header: {header_name: X-User}
  - query_parameter: {name: id}
    terminal: true
  - connection_properties: {source_ip: true}
  - connection_properties: {source_ip: false}
  - cookie: {name: sid, path: /}
  - cookie: {name: lb, ttl: 3600.9s, path: /app, attributes: [{name: SameSite, value: Lax}, {name: Secure}]}
  - cookie: {name: session, ttl: 0s}
  - filter_state: {key: envoy.tcp_proxy.cluster}`,
		want: Route{Match: prefixRoot, Action: &RouteAction{Cluster: "be", Timeout: 15 * time.Second,
			HashPolicy: []spec.HashPolicy{{Kind: spec.HashHeader, Name: "X-User"}, {Kind: spec.HashQuery, Name: "id", Terminal: true}, {Kind: spec.HashSourceIP},
				{Kind: spec.HashCookie, Name: "sid"},
				{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 3600, Path: "/app",
					Attributes: []spec.CookieAttribute{{Name: "SameSite", Value: "Lax"}, {Name: "Secure"}}}},
				{Kind: spec.HashCookie, Name: "session", Cookie: &spec.SetCookie{}},
				{Kind: spec.HashFilterState, Name: "envoy.tcp_proxy.cluster"}}}},
	}, {
		name:  "direct response",
		route: "match: {path: /health}\ndirect_response: {status: 200, body: {inline_string: ok}}",
		want:  Route{Match: RouteMatch{Kind: PathExact, Path: "/health", CaseSensitive: true}, Direct: &DirectResponse{Status: 200, Body: "ok"}},
	}, {
		name:  "direct response without body",
		route: "match: {prefix: /}\ndirect_response: {status: 404}",
		want:  Route{Match: prefixRoot, Direct: &DirectResponse{Status: 404}},
	}, {
		name:  "https redirect",
		route: "match: {prefix: /}\nredirect: {https_redirect: true}",
		want:  Route{Match: prefixRoot, Redirect: &Redirect{Status: 301, Scheme: "https"}},
	}, {
		name:  "full redirect",
		route: "match: {prefix: /}\nredirect: {scheme_redirect: http, host_redirect: new.example, path_redirect: /x, strip_query: true, response_code: PERMANENT_REDIRECT}",
		want:  Route{Match: prefixRoot, Redirect: &Redirect{Status: 308, Scheme: "http", Host: "new.example", Path: "/x", StripQuery: true}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRouteConfig(oneRoute(t, tt.route))
			if err != nil {
				t.Fatalf("DecodeRouteConfig: %v", err)
			}
			want := &RouteConfig{Name: "rc", VirtualHosts: []VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: []Route{tt.want}}}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("DecodeRouteConfig mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedirectCodes(t *testing.T) {
	for name, want := range map[string]int{"MOVED_PERMANENTLY": 301, "FOUND": 302, "SEE_OTHER": 303, "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308} {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeRouteConfig(oneRoute(t, "match: {prefix: /}\nredirect: {response_code: "+name+"}"))
			if err != nil {
				t.Fatal(err)
			}
			if s := got.VirtualHosts[0].Routes[0].Redirect.Status; s != want {
				t.Errorf("status: got %d, want %d", s, want)
			}
		})
	}
}

func TestDecodeVirtualHosts(t *testing.T) {
	rc := fromYAML(t, `
name: rc
validate_clusters: true
virtual_hosts:
- {name: a, domains: [API.example.com, "*.api.example.com"], routes: []}
- {name: b, domains: ["api.*", "*"]}
`, &routev3.RouteConfiguration{})
	got, err := DecodeRouteConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	want := &RouteConfig{Name: "rc", VirtualHosts: []VirtualHost{
		{Name: "a", Domains: []string{"api.example.com", "*.api.example.com"}},
		{Name: "b", Domains: []string{"api.*", "*"}},
	}, ValidateClusters: new(true)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeRouteConfig mismatch (-want +got):\n%s", diff)
	}
}
