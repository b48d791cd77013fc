package config

import (
	"strings"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	_ "github.com/meshlb/meshlb/sidecar/httpfilter/grpcbridge"
	_ "github.com/meshlb/meshlb/sidecar/httpfilter/grpcstats"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestHTTPFilterTypesMatchRegistry checks that config accepts exactly the
// filters sidecar/httpfilter can build.
func TestHTTPFilterTypesMatchRegistry(t *testing.T) {
	if diff := cmp.Diff(httpfilter.TypeURLs(), HTTPFilterTypes()); diff != "" {
		t.Errorf("config accepts (+) what httpfilter does not register (-):\n%s", diff)
	}
}

// filterListener is an HTTP listener whose http_filters are filters, then
// the router.
func filterListener(filters string) string {
	return `
name: web
address: {socket_address: {address: 127.0.0.1, port_value: 80}}
filter_chains:
- filters:
  - name: hcm
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: ingress
      rds: {route_config_name: main, config_source: {ads: {}}}
      http_filters:
` + filters + `
      - name: envoy.filters.http.router
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
`
}

const (
	tcpType   = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
	rlType    = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
	faultURL  = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
	fullLimit = `
      - name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": ` + rlType + `
          stat_prefix: rl
          status: {code: ServiceUnavailable}
          token_bucket: {max_tokens: 10, tokens_per_fill: 5, fill_interval: 2s}
          filter_enabled: {runtime_key: rl_on, default_value: {numerator: 50, denominator: TEN_THOUSAND}}
          filter_enforced: {default_value: {numerator: 100}}
          request_headers_to_add_when_not_enforced: [{header: {key: x-shadow, value: "1"}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}]
          response_headers_to_add: [{header: {key: x-local-rate-limit, value: "true"}, append: false}]`
	fullFault = `
      - name: envoy.filters.http.fault
        typed_config:
          "@type": ` + faultURL + `
          delay: {fixed_delay: 0.5s, percentage: {numerator: 10}}
          abort: {header_abort: {}, percentage: {numerator: 100}, response_body: nope}
          headers: [{name: X-Chaos, exact_match: "on"}]
          max_active_faults: 3`
)

func TestDecodeHTTPFilters(t *testing.T) {
	three := uint32(3)
	tests := []struct {
		name    string
		filters string
		want    []spec.HTTPFilter
	}{{
		name: "router only",
	}, {
		name:    "local rate limit, every field",
		filters: fullLimit,
		want: []spec.HTTPFilter{{Name: "envoy.filters.http.local_ratelimit", TypeURL: rlType, Config: &spec.HTTPLocalRateLimit{
			StatPrefix: "rl", Status: 503,
			Bucket:                        &spec.TokenBucket{MaxTokens: 10, TokensPerFill: 5, FillInterval: 2 * time.Second},
			Enabled:                       spec.Fraction{Numerator: 50, Denominator: 10000},
			Enforced:                      spec.Fraction{Numerator: 100, Denominator: 100},
			RequestHeadersWhenNotEnforced: []spec.HeaderValue{{Name: "x-shadow", Value: "1", Overwrite: true}},
			ResponseHeaders:               []spec.HeaderValue{{Name: "x-local-rate-limit", Value: "true", Overwrite: true}},
		}}},
	}, {
		name: "local rate limit defaults: disabled, not enforced, 429, no bucket",
		filters: `
      - name: rl
        typed_config: {"@type": ` + rlType + `, stat_prefix: rl}`,
		want: []spec.HTTPFilter{{Name: "rl", TypeURL: rlType, Config: &spec.HTTPLocalRateLimit{
			StatPrefix: "rl", Status: 429, Enabled: spec.Fraction{Denominator: 100}, Enforced: spec.Fraction{Denominator: 100},
		}}},
	}, {
		name:    "fault then rate limit, in order",
		filters: fullFault + fullLimit,
		want: []spec.HTTPFilter{{Name: "envoy.filters.http.fault", TypeURL: faultURL, Config: &spec.Fault{
			Delay:           &spec.FaultDelay{Fixed: 500 * time.Millisecond, Percent: spec.Fraction{Numerator: 10, Denominator: 100}},
			Abort:           &spec.FaultAbort{FromHeader: true, Percent: spec.Fraction{Numerator: 100, Denominator: 100}, Body: "nope"},
			Headers:         []spec.HeaderMatch{{Name: "x-chaos", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "on"}}},
			MaxActiveFaults: &three,
		}}, {Name: "envoy.filters.http.local_ratelimit", TypeURL: rlType}},
	}, {
		name: "empty fault, header delay, fixed abort",
		filters: `
      - name: empty
        typed_config: {"@type": ` + faultURL + `}
      - name: f
        typed_config:
          "@type": ` + faultURL + `
          delay: {header_delay: {}, percentage: {numerator: 1, denominator: MILLION}}
          abort: {http_status: 503}`,
		want: []spec.HTTPFilter{{Name: "empty", TypeURL: faultURL, Config: &spec.Fault{}}, {Name: "f", TypeURL: faultURL, Config: &spec.Fault{
			Delay: &spec.FaultDelay{FromHeader: true, Percent: spec.Fraction{Numerator: 1, Denominator: 1000000}},
			Abort: &spec.FaultAbort{Status: 503, Percent: spec.Fraction{Denominator: 100}},
		}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := DecodeListener(fromYAML(t, filterListener(tt.filters), &listenerv3.Listener{}))
			if err != nil {
				t.Fatal(err)
			}
			got := l.FilterChains[0].HTTP.Filters
			if len(tt.want) == 2 && tt.want[1].Config == nil && len(got) == 2 {
				tt.want[1].Config = got[1].Config // checked in its own case
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeHTTPFilterErrors(t *testing.T) {
	const hf = `listener "web": filter_chains[0].filters[0].typed_config.http_filters[0]`
	limit := func(fields string) string {
		return "\n      - name: rl\n        typed_config: {\"@type\": " + rlType + ", stat_prefix: rl" + fields + "}"
	}
	fault := func(fields string) string {
		return "\n      - name: f\n        typed_config: {\"@type\": " + faultURL + fields + "}"
	}
	tests := []struct {
		name    string
		filters string
		want    string
	}{
		{"unknown filter", "\n      - name: tcp\n        typed_config: {\"@type\": " + tcpType + "}", hf + `.typed_config: unsupported HTTP filter "` + tcpType + `"`},
		{"duplicate name", limit("") + limit(""), `http_filters[1].name: "rl" is used by an earlier filter`},
		{"no typed_config", "\n      - name: rl", hf + ".typed_config: required"},
		{"disabled filter", "\n      - name: rl\n        disabled: true\n        typed_config: {\"@type\": " + rlType + ", stat_prefix: rl}", hf + ".disabled: not supported"},
		{"descriptors", limit(", descriptors: [{entries: [{key: a, value: b}], token_bucket: {max_tokens: 1, fill_interval: 1s}}]"), hf + ".typed_config.descriptors: not supported"},
		{"per connection", limit(", local_rate_limit_per_downstream_connection: true"), hf + ".typed_config.local_rate_limit_per_downstream_connection: not supported"},
		// Envoy's defined_only rule: no denominator outside the enum, so a
		// decoded fraction never has a zero denominator.
		{"undefined denominator", limit(", filter_enforced: {default_value: {numerator: 0, denominator: 7}}"), hf + ".typed_config.filter_enforced.default_value.denominator: value must be one of the defined enum values"},
		{"fast fill", limit(", token_bucket: {max_tokens: 1, fill_interval: 0.01s}"), hf + ".typed_config.token_bucket.fill_interval: must be at least 50ms"},
		{"no fill interval", limit(", token_bucket: {max_tokens: 1}"), hf + ".typed_config.token_bucket.fill_interval: value is required"},
		{"add if absent", limit(", response_headers_to_add: [{header: {key: a, value: b}, append_action: ADD_IF_ABSENT}]"), hf + ".typed_config.response_headers_to_add[0].append_action: ADD_IF_ABSENT is not supported"},
		{"raw header value", limit(", response_headers_to_add: [{header: {key: a, raw_value: YQ==}}]"), hf + ".typed_config.response_headers_to_add[0].header.raw_value: not supported"},
		{"grpc abort", fault(", abort: {grpc_status: 14, percentage: {numerator: 1}}"), hf + ".typed_config.abort.grpc_status: not supported"},
		{"abort status range", fault(", abort: {http_status: 100}"), hf + ".typed_config.abort.http_status: value must be inside range [200, 600)"},
		{"upstream cluster", fault(", abort: {http_status: 503}, upstream_cluster: be"), hf + ".typed_config.upstream_cluster: not supported"},
		{"response rate limit", fault(", response_rate_limit: {fixed_limit: {limit_kbps: 1}}"), hf + ".typed_config.response_rate_limit: not supported"},
		{"runtime key", fault(", abort: {http_status: 503}, abort_percent_runtime: x"), hf + ".typed_config.abort_percent_runtime: not supported"},
		{"bad header regex", fault(", abort: {http_status: 503}, headers: [{name: x, safe_regex_match: {regex: '('}}]"), hf + ".typed_config.headers[0].safe_regex_match.regex: error parsing regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeListener(fromYAML(t, filterListener(tt.filters), &listenerv3.Listener{}))
			wantError(t, err, tt.want)
		})
	}
}

func TestDecodeHTTPFiltersRouterMissing(t *testing.T) {
	y := strings.Replace(filterListener(fullLimit), `
      - name: envoy.filters.http.router
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
`, "\n", 1)
	_, err := DecodeListener(fromYAML(t, y, &listenerv3.Listener{}))
	wantError(t, err, `http_filters[0].typed_config: unsupported HTTP filter "`+rlType+`": the last filter must be the router`)
}

// TestDecodePerFilterConfig shows route entries winning over their
// virtual host's, which its routes share.
func TestDecodePerFilterConfig(t *testing.T) {
	rc, err := DecodeRouteConfig(fromYAML(t, `
name: rc
virtual_hosts:
- name: vh
  domains: ["*"]
  typed_per_filter_config:
    rl: {"@type": `+rlType+`, stat_prefix: vh, token_bucket: {max_tokens: 1, fill_interval: 1s}}
    f: {"@type": `+faultURL+`, abort: {http_status: 500}}
  routes:
  - match: {prefix: /own}
    route: {cluster: be}
    typed_per_filter_config:
      rl: {"@type": `+rlType+`, stat_prefix: own, token_bucket: {max_tokens: 2, fill_interval: 1s}}
  - match: {prefix: /}
    route: {cluster: be}
`, &routev3.RouteConfiguration{}))
	if err != nil {
		t.Fatal(err)
	}
	routes := rc.VirtualHosts[0].Routes
	own, shared := routes[0].PerFilter, routes[1].PerFilter
	if got := own["rl"].Config.(*spec.HTTPLocalRateLimit).StatPrefix; got != "own" {
		t.Errorf("route's rl stat_prefix = %q, want own", got)
	}
	if shared["rl"].Config.(*spec.HTTPLocalRateLimit).StatPrefix != "vh" || own["f"] != shared["f"] {
		t.Errorf("virtual host entries not shared: own %+v, other %+v", own, shared)
	}
	if own["f"].TypeURL != faultURL || own["f"].Name != "f" {
		t.Errorf("fault entry = %+v", own["f"])
	}
}

func TestDecodePerFilterConfigErrors(t *testing.T) {
	const r0 = `route_config "rc": virtual_hosts[0].routes[0].`
	tests := []struct {
		name, perFilter, want string
	}{
		{"unknown type", `{x: {"@type": ` + tcpType + `}}`, r0 + `typed_per_filter_config["x"]: unsupported HTTP filter "` + tcpType + `"`},
		{"rate limit without bucket", `{rl: {"@type": ` + rlType + `, stat_prefix: rl}}`, r0 + `typed_per_filter_config["rl"].token_bucket: required in typed_per_filter_config`},
		{"filter config wrapper", `{rl: {"@type": type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true}}`, r0 + `typed_per_filter_config["rl"]: unsupported HTTP filter "type.googleapis.com/envoy.config.route.v3.FilterConfig"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRouteConfig(fromYAML(t, `
name: rc
virtual_hosts:
- name: vh
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route: {cluster: be}
    typed_per_filter_config: `+tt.perFilter+"\n", &routev3.RouteConfiguration{}))
			wantError(t, err, tt.want)
		})
	}
}
