package config

import (
	"net/netip"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// rbacListener is a TCP listener whose chain runs the network RBAC filter
// with the configuration cfg (YAML lines at the filter's indentation),
// then tcp_proxy.
func rbacListener(cfg string) string {
	return `
name: web
address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
filter_chains:
- filters:
  - name: envoy.filters.network.rbac
    typed_config:
      "@type": ` + spec.NetworkRBACType + `
` + cfg + `
  - name: tcp
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: web
      cluster: be
`
}

// httpRBAC is an HTTP RBAC filter entry of http_filters with cfg.
func httpRBAC(cfg string) string {
	return `
      - name: envoy.filters.http.rbac
        typed_config:
          "@type": ` + spec.HTTPRBACType + `
` + cfg
}

// equatePrefix compares netip.Prefix values, whose fields are unexported.
var equatePrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

var consulWebPrincipal = spec.Principal{Kind: spec.PrinAuthenticated,
	Name: &spec.StringMatch{Kind: spec.MatchRegex, Value: `^spiffe://test.consul/ns/default/dc/[^/]+/svc/web$`}}

// TestDecodeNetworkRBAC decodes what Consul 1.21 emits for an L4
// intention (agent/xds/rbac.go), and every other accepted field.
func TestDecodeNetworkRBAC(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      *spec.RBAC
	}{{
		name: "consul L4 allow",
		cfg: `      stat_prefix: connect_authz
      rules:
        policies:
          consul-intentions-layer4:
            permissions: [{any: true}]
            principals:
            - authenticated: {principal_name: {safe_regex: {regex: "^spiffe://test.consul/ns/default/dc/[^/]+/svc/web$"}}}`,
		want: &spec.RBAC{StatPrefix: "connect_authz", Rules: &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{{
			Name: "consul-intentions-layer4", Permissions: []spec.Permission{{Kind: spec.PermAny}}, Principals: []spec.Principal{consulWebPrincipal}}}}},
	}, {
		name: "consul default deny: ALLOW without policies",
		cfg:  "      stat_prefix: connect_authz\n      rules: {}",
		want: &spec.RBAC{StatPrefix: "connect_authz", Rules: &spec.RBACRules{}},
	}, {
		name: "deny, policies sorted, shadow, addresses, sets",
		cfg: `      stat_prefix: s
      enforcement_type: CONTINUOUS
      shadow_rules_stat_prefix: sh_
      shadow_rules: {action: LOG}
      rules:
        action: DENY
        policies:
          z:
            permissions: [{destination_port: 80}, {destination_port_range: {start: 8000, end: 9000}}]
            principals: [{source_ip: {address_prefix: 10.0.0.0, prefix_len: 8}}, {direct_remote_ip: {address_prefix: "::1", prefix_len: 128}}]
          a:
            permissions: [{and_rules: {rules: [{destination_ip: {address_prefix: 10.1.0.0, prefix_len: 16}}, {not_rule: {requested_server_name: {exact: api}}}]}}, {or_rules: {rules: [{any: true}]}}]
            principals: [{and_ids: {ids: [{remote_ip: {address_prefix: 1.2.3.4, prefix_len: 32}}, {not_id: {authenticated: {}}}]}}, {or_ids: {ids: [{any: true}]}}]`,
		want: &spec.RBAC{StatPrefix: "s", ShadowStatPrefix: "sh_", Shadow: &spec.RBACRules{Action: spec.RBACLog},
			Rules: &spec.RBACRules{Action: spec.RBACDeny, Policies: []spec.RBACPolicy{{
				Name: "a",
				Permissions: []spec.Permission{{Kind: spec.PermAnd, Rules: []spec.Permission{
					{Kind: spec.PermDestinationIP, CIDR: netip.MustParsePrefix("10.1.0.0/16")},
					{Kind: spec.PermNot, Rules: []spec.Permission{{Kind: spec.PermServerName, Match: spec.StringMatch{Kind: spec.MatchExact, Value: "api"}}}},
				}}, {Kind: spec.PermOr, Rules: []spec.Permission{{Kind: spec.PermAny}}}},
				Principals: []spec.Principal{{Kind: spec.PrinAnd, IDs: []spec.Principal{
					{Kind: spec.PrinRemoteIP, CIDR: netip.MustParsePrefix("1.2.3.4/32")},
					{Kind: spec.PrinNot, IDs: []spec.Principal{{Kind: spec.PrinAuthenticated}}},
				}}, {Kind: spec.PrinOr, IDs: []spec.Principal{{Kind: spec.PrinAny}}}},
			}, {
				Name:        "z",
				Permissions: []spec.Permission{{Kind: spec.PermDestinationPort, Port: 80}, {Kind: spec.PermDestinationPortRange, Port: 8000, PortEnd: 9000}},
				Principals: []spec.Principal{{Kind: spec.PrinSourceIP, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
					{Kind: spec.PrinDirectRemoteIP, CIDR: netip.MustParsePrefix("::1/128")}},
			}}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := DecodeListener(fromYAML(t, rbacListener(tt.cfg), &listenerv3.Listener{}))
			if err != nil {
				t.Fatal(err)
			}
			f := l.FilterChains[0].Filters[0]
			if f.TypeURL != spec.NetworkRBACType {
				t.Fatalf("type %q", f.TypeURL)
			}
			if diff := cmp.Diff(tt.want, f.Config, equatePrefix); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeHTTPRBAC decodes what Consul 1.21 emits for L7 intentions:
// path and :method permissions under and_rules, exact and regex
// principals.
func TestDecodeHTTPRBAC(t *testing.T) {
	cfg := `          rules_stat_prefix: r_
          rules:
            policies:
              consul-intentions-layer7-0:
                permissions:
                - and_rules:
                    rules:
                    - url_path: {path: {prefix: /api}}
                    - header: {name: ":method", string_match: {safe_regex: {regex: "GET|HEAD"}}}
                    - not_rule: {url_path: {path: {exact: /api/admin}}}
                    - header: {name: X-Env, present_match: false}
                principals:
                - authenticated: {principal_name: {exact: "spiffe://test.consul/ns/default/dc/dc1/svc/web"}}
                - url_path: {path: {suffix: .json, ignore_case: true}}
                - header: {name: x-user, invert_match: true, exact_match: bob}`
	l, err := DecodeListener(fromYAML(t, filterListener(httpRBAC(cfg)), &listenerv3.Listener{}))
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.HTTPFilter{{Name: "envoy.filters.http.rbac", TypeURL: spec.HTTPRBACType, Config: &spec.RBAC{StatPrefix: "r_",
		Rules: &spec.RBACRules{Policies: []spec.RBACPolicy{{Name: "consul-intentions-layer7-0",
			Permissions: []spec.Permission{{Kind: spec.PermAnd, Rules: []spec.Permission{
				{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/api"}},
				{Kind: spec.PermHeader, Header: spec.HeaderMatch{Name: ":method", Match: spec.StringMatch{Kind: spec.MatchRegex, Value: "GET|HEAD"}}},
				{Kind: spec.PermNot, Rules: []spec.Permission{{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchExact, Value: "/api/admin"}}}},
				{Kind: spec.PermHeader, Header: spec.HeaderMatch{Name: "x-env", Match: spec.StringMatch{Kind: spec.MatchPresent}, Invert: true}},
			}}},
			Principals: []spec.Principal{
				{Kind: spec.PrinAuthenticated, Name: &spec.StringMatch{Kind: spec.MatchExact, Value: "spiffe://test.consul/ns/default/dc/dc1/svc/web"}},
				{Kind: spec.PrinURLPath, Match: spec.StringMatch{Kind: spec.MatchSuffix, Value: ".json", IgnoreCase: true}},
				{Kind: spec.PrinHeader, Header: spec.HeaderMatch{Name: "x-user", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "bob"}, Invert: true}},
			}}}}}}}
	if diff := cmp.Diff(want, l.FilterChains[0].HTTP.Filters, equatePrefix); diff != "" {
		t.Errorf("filters (-want +got):\n%s", diff)
	}
}

// TestDecodeRBACErrors: the NACK texts name the field.
func TestDecodeRBACErrors(t *testing.T) {
	const nf = `listener "web": filter_chains[0].filters[0].typed_config.`
	const hf = `listener "web": filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.`
	policy := func(body string) string {
		return "      stat_prefix: s\n      rules:\n        policies:\n          p:\n" + body
	}
	anyPerm := "            permissions: [{any: true}]\n"
	anyPrin := "            principals: [{any: true}]\n"
	tests := []struct {
		name, yaml, want string
	}{{
		name: "network: matcher",
		yaml: rbacListener("      stat_prefix: s\n      matcher: {}"),
		want: nf + "matcher: not supported",
	}, {
		name: "network: delay_deny",
		yaml: rbacListener("      stat_prefix: s\n      delay_deny: 1s"),
		want: nf + "delay_deny: not supported",
	}, {
		name: "network: shadow_matcher",
		yaml: rbacListener("      stat_prefix: s\n      shadow_matcher: {}"),
		want: nf + "shadow_matcher: not supported",
	}, {
		name: "network: stat_prefix required",
		yaml: rbacListener("      rules: {}"),
		want: nf + "stat_prefix: value length must be at least 1 runes",
	}, {
		name: "policy condition",
		yaml: rbacListener(policy(anyPerm + anyPrin + "            condition: {const_expr: {bool_value: true}}")),
		want: nf + `rules.policies["p"].condition: not supported`,
	}, {
		name: "audit logging",
		yaml: rbacListener("      stat_prefix: s\n      rules: {audit_logging_options: {audit_condition: ON_DENY}}"),
		want: nf + "rules.audit_logging_options: not supported",
	}, {
		name: "permission metadata",
		yaml: rbacListener(policy("            permissions: [{metadata: {filter: f, path: [{key: k}], value: {present_match: true}}}]\n" + anyPrin)),
		want: nf + `rules.policies["p"].permissions[0].metadata: not supported`,
	}, {
		name: "principal metadata (Consul's JWT)",
		yaml: rbacListener(policy(anyPerm + "            principals: [{and_ids: {ids: [{metadata: {filter: f, path: [{key: k}], value: {present_match: true}}}]}}]\n")),
		want: nf + `rules.policies["p"].principals[0].and_ids.ids[0].metadata: not supported`,
	}, {
		name: "principal filter_state",
		yaml: rbacListener(policy(anyPerm + "            principals: [{filter_state: {key: k, string_match: {exact: v}}}]\n")),
		want: nf + `rules.policies["p"].principals[0].filter_state: not supported`,
	}, {
		name: "bad regex",
		yaml: rbacListener(policy(anyPerm + "            principals: [{authenticated: {principal_name: {safe_regex: {regex: \"(\"}}}}]\n")),
		want: nf + `rules.policies["p"].principals[0].authenticated.principal_name.safe_regex.regex: error parsing regexp: missing closing ): ` + "`(`",
	}, {
		name: "bad CIDR",
		yaml: rbacListener(policy(anyPerm + "            principals: [{source_ip: {address_prefix: 10.0.0.0, prefix_len: 33}}]\n")),
		want: nf + `rules.policies["p"].principals[0].source_ip.prefix_len: 33 is longer than the 32 bits of 10.0.0.0`,
	}, {
		name: "bad port range",
		yaml: rbacListener(policy("            permissions: [{destination_port_range: {start: 10, end: 5}}]\n" + anyPrin)),
		want: nf + `rules.policies["p"].permissions[0].destination_port_range: [10, 5) is not a port range`,
	}, {
		name: "no principals",
		yaml: rbacListener(policy(anyPerm)),
		want: nf + `rules.policies[p].principals: value must contain at least 1 item(s)`,
	}, {
		name: "http: matcher",
		yaml: filterListener(httpRBAC("          matcher: {}")),
		want: hf + "matcher: not supported",
	}, {
		name: "http: track_per_rule_stats",
		yaml: filterListener(httpRBAC("          track_per_rule_stats: true")),
		want: hf + "track_per_rule_stats: not supported",
	}, {
		name: "http: shadow principal metadata",
		yaml: filterListener(httpRBAC("          shadow_rules:\n            policies:\n              p:\n                permissions: [{any: true}]\n                principals: [{metadata: {filter: f, path: [{key: k}], value: {present_match: true}}}]")),
		want: hf + `shadow_rules.policies["p"].principals[0].metadata: not supported`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeListener(fromYAML(t, tt.yaml, &listenerv3.Listener{}))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestRBACTypeURLs: the spec constants are the proto types' URLs.
func TestRBACTypeURLs(t *testing.T) {
	for _, u := range []string{spec.NetworkRBACType, spec.HTTPRBACType} {
		if !strings.HasSuffix(u, ".rbac.v3.RBAC") {
			t.Errorf("%s", u)
		}
	}
	if _, ok := networkDecoders[spec.NetworkRBACType]; !ok {
		t.Error("network RBAC is not decoded")
	}
	if _, ok := filterDecoders[spec.HTTPRBACType]; !ok {
		t.Error("HTTP RBAC is not decoded")
	}
}
