package config

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

func TestDecodeRouteErrors(t *testing.T) {
	const r0 = `route_config "rc": virtual_hosts[0].routes[0].`
	tests := []struct {
		name  string
		route string
		want  string
	}{
		{"hash policy header rewrite", "match: {prefix: /}\nroute: {cluster: be, hash_policy: [{header: {header_name: x, regex_rewrite: {pattern: {regex: a}, substitution: b}}}]}", r0 + "route.hash_policy[0].header.regex_rewrite: not supported"},
		{"max stream duration", "match: {prefix: /}\nroute: {cluster: be, max_stream_duration: {max_stream_duration: 10s}}", r0 + "route.max_stream_duration.max_stream_duration: not supported"},
		{"grpc offset alone", "match: {prefix: /}\nroute: {cluster: be, max_stream_duration: {grpc_timeout_header_offset: 1s}}", r0 + "route.max_stream_duration.grpc_timeout_header_offset: only with grpc_timeout_header_max"},
		{"auto host rewrite", "match: {prefix: /}\nroute: {cluster: be, auto_host_rewrite: true}", r0 + "route.auto_host_rewrite: not supported"},
		{"regex rewrite with prefix rewrite", "match: {prefix: /}\nroute: {cluster: be, prefix_rewrite: /x, regex_rewrite: {pattern: {regex: a}, substitution: b}}", r0 + "route.regex_rewrite: must not be set with prefix_rewrite"},
		{"regex rewrite unknown group", "match: {prefix: /}\nroute: {cluster: be, regex_rewrite: {pattern: {regex: '(a)'}, substitution: '\\\\2'}}", r0 + "route.regex_rewrite.substitution: \\2 names no group of the pattern"},
		{"cluster header", "match: {prefix: /}\nroute: {cluster_header: x-cluster}", r0 + "route.cluster_header: not supported"},
		{"empty cluster", "match: {prefix: /}\nroute: {cluster: ''}", r0 + "route.cluster"},
		{"all weights zero", "match: {prefix: /}\nroute: {weighted_clusters: {clusters: [{name: a}, {name: b, weight: 0}]}}", r0 + "route.weighted_clusters.clusters: total weight must be between 1 and 4294967295, got 0"},
		{"total weight mismatch", "match: {prefix: /}\nroute: {weighted_clusters: {clusters: [{name: a, weight: 1}], total_weight: 100}}", r0 + "route.weighted_clusters.total_weight: is 100 but the weights sum to 1"},
		{"weighted cluster header", "match: {prefix: /}\nroute: {weighted_clusters: {clusters: [{name: a, weight: 1, request_headers_to_add: [{header: {key: a, value: b}}]}]}}", r0 + "route.weighted_clusters.clusters[0].request_headers_to_add: not supported"},
		{"unknown retry condition", "match: {prefix: /}\nroute: {cluster: be, retry_policy: {retry_on: '5xx,teapot'}}", r0 + `route.retry_policy.retry_on: condition "teapot" is not supported`},
		{"other retry host predicate", "match: {prefix: /}\nroute: {cluster: be, retry_policy: {retry_on: 5xx, retry_host_predicate: [{name: x, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]}}",
			r0 + `route.retry_policy.retry_host_predicate[0].typed_config: unsupported retry host predicate`},
		{"other retry priority", "match: {prefix: /}\nroute: {cluster: be, retry_policy: {retry_on: 5xx, retry_priority: {name: x, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}",
			r0 + `route.retry_policy.retry_priority.typed_config: unsupported retry priority`},
		{"retry priority update frequency 0", "match: {prefix: /}\nroute: {cluster: be, retry_policy: {retry_on: 5xx, retry_priority: {name: x, typed_config: {'@type': type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig}}}}",
			r0 + `route.retry_policy.retry_priority.typed_config`},
		{"retry back off", "match: {prefix: /}\nroute: {cluster: be, retry_policy: {retry_on: 5xx, retry_back_off: {base_interval: 1s}}}", r0 + "route.retry_policy.retry_back_off: not supported"},
		{"negative timeout", "match: {prefix: /}\nroute: {cluster: be, timeout: -1s}", r0 + "route.timeout: must not be negative"},
		{"mirror", "match: {prefix: /}\nroute: {cluster: be, request_mirror_policies: [{cluster: m}]}", r0 + "route.request_mirror_policies: not supported"},
		{"port redirect", "match: {prefix: /}\nredirect: {port_redirect: 8443}", r0 + "redirect.port_redirect: not supported"},
		{"prefix rewrite redirect", "match: {prefix: /}\nredirect: {prefix_rewrite: /x}", r0 + "redirect.prefix_rewrite: not supported"},
		{"direct body from file", "match: {prefix: /}\ndirect_response: {status: 200, body: {filename: /etc/passwd}}", r0 + "direct_response.body.filename: not supported"},
		{"non-forwarding action", "match: {prefix: /}\nnon_forwarding_action: {}", r0 + "non_forwarding_action: not supported"},
		{"header to add with a bad format", "match: {prefix: /}\nroute: {cluster: be}\nrequest_headers_to_add: [{header: {key: a, value: '%NOPE%'}}]", r0 + "request_headers_to_add[0].header.value: %NOPE%: command operator NOPE is not supported"},
		{"header to add: host", "match: {prefix: /}\nroute: {cluster: be}\nrequest_headers_to_add: [{header: {key: Host, value: b}}]", r0 + `request_headers_to_add[0].header.key: header "host" may not be modified`},
		{"header to remove: framing", "match: {prefix: /}\nroute: {cluster: be}\nresponse_headers_to_remove: [Content-Length]", r0 + `response_headers_to_remove[0]: framing header "content-length" may not be modified`},
		{"header to add: append and append_action", "match: {prefix: /}\nroute: {cluster: be}\nresponse_headers_to_add: [{header: {key: a, value: b}, append: false, append_action: ADD_IF_ABSENT}]", r0 + `response_headers_to_add[0].append: must not be set with append_action`},
		{"runtime fraction", "match: {prefix: /, runtime_fraction: {default_value: {numerator: 1}}}\nroute: {cluster: be}", r0 + "match.runtime_fraction: not supported"},
		{"connect matcher", "match: {connect_matcher: {}}\nroute: {cluster: be}", r0 + "match.connect_matcher: not supported"},
		{"bad path regex", "match: {safe_regex: {regex: '('}}\nroute: {cluster: be}", r0 + "match.safe_regex.regex: error parsing regexp"},
		{"regex program size", "match: {safe_regex: {regex: a, google_re2: {max_program_size: 10}}}\nroute: {cluster: be}", r0 + "match.safe_regex.google_re2.max_program_size: not supported"},
		{"range header match", "match: {prefix: /, headers: [{name: x, range_match: {start: 1, end: 2}}]}\nroute: {cluster: be}", r0 + "match.headers[0].range_match: not supported"},
		{"bad header regex", "match: {prefix: /, headers: [{name: x, string_match: {safe_regex: {regex: '['}}}]}\nroute: {cluster: be}", r0 + "match.headers[0].string_match.safe_regex.regex: error parsing regexp"},
		{"treat missing header as empty", "match: {prefix: /, headers: [{name: x, exact_match: a, treat_missing_header_as_empty: true}]}\nroute: {cluster: be}", r0 + "match.headers[0].treat_missing_header_as_empty: not supported"},
		{"query absent", "match: {prefix: /, query_parameters: [{name: q, present_match: false}]}\nroute: {cluster: be}", r0 + "match.query_parameters[0].present_match: false is not supported"},
		{"string matcher custom", "match: {prefix: /, query_parameters: [{name: q, string_match: {exact: a, ignore_case: true}}], headers: [{name: h, string_match: {}}]}\nroute: {cluster: be}", r0 + "match.headers[0].string_match.match_pattern: value is required"},
		{"validation: missing match", "route: {cluster: be}", r0 + "match: value is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRouteConfig(oneRoute(t, tt.route))
			if got != nil {
				t.Errorf("DecodeRouteConfig returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}

func TestDecodeRouteConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"duplicate domain", "name: rc\nvirtual_hosts: [{name: a, domains: [x.com]}, {name: b, domains: [y.com, X.com]}]",
			`route_config "rc": virtual_hosts[1].domains[1]: domain "x.com" is already in virtual_hosts[0]`},
		{"wildcard in the middle", "name: rc\nvirtual_hosts: [{name: a, domains: ['a.*.com']}]",
			`route_config "rc": virtual_hosts[0].domains[0]: "a.*.com": a wildcard must be the first or last character`},
		{"two wildcards", "name: rc\nvirtual_hosts: [{name: a, domains: ['*.a.*']}]",
			`route_config "rc": virtual_hosts[0].domains[0]: "*.a.*": a wildcard must be the first or last character`},
		{"require tls", "name: rc\nvirtual_hosts: [{name: a, domains: ['*'], require_tls: ALL}]",
			`route_config "rc": virtual_hosts[0].require_tls: not supported`},
		{"vhost retry policy", "name: rc\nvirtual_hosts: [{name: a, domains: ['*'], retry_policy: {retry_on: 5xx}}]",
			`route_config "rc": virtual_hosts[0].retry_policy: not supported`},
		{"most specific header mutations wins", "name: rc\nmost_specific_header_mutations_wins: true",
			`route_config "rc": most_specific_header_mutations_wins: not supported`},
		{"response header to remove: pseudo-header", "name: rc\nresponse_headers_to_remove: [':status']",
			`route_config "rc": response_headers_to_remove[0]: pseudo-header ":status" may not be modified`},
		{"validation: vhost without domains", "name: rc\nvirtual_hosts: [{name: a}]",
			`route_config "rc": virtual_hosts[0].domains: value must contain at least 1 item(s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRouteConfig(fromYAML(t, tt.yaml, &routev3.RouteConfiguration{}))
			if got != nil {
				t.Errorf("DecodeRouteConfig returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}

func TestDirectResponseBodyLimit(t *testing.T) {
	rc := oneRoute(t, "match: {prefix: /}\ndirect_response: {status: 200}")
	body := make([]byte, maxDirectResponseBody+1)
	rc.VirtualHosts[0].Routes[0].GetDirectResponse().Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: body}}
	_, err := DecodeRouteConfig(rc)
	wantError(t, err, `route_config "rc": virtual_hosts[0].routes[0].direct_response.body: 4097 bytes is over the 4096-byte limit`)
}
