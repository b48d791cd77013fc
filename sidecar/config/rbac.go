package config

import (
	"slices"
	"strconv"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	httprbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	netRBACFields = allow(&netrbacv3.RBAC{},
		"rules", "shadow_rules", "shadow_rules_stat_prefix", "stat_prefix", "enforcement_type")
	httpRBACFields = allow(&httprbacv3.RBAC{},
		"rules", "rules_stat_prefix", "shadow_rules", "shadow_rules_stat_prefix")
	rbacRulesFields  = allow(&rbacv3.RBAC{}, "action", "policies")
	rbacPolicyFields = allow(&rbacv3.Policy{}, "permissions", "principals")
	permissionFields = allow(&rbacv3.Permission{},
		"and_rules", "or_rules", "any", "header", "url_path", "destination_ip",
		"destination_port", "destination_port_range", "not_rule", "requested_server_name")
	principalFields = allow(&rbacv3.Principal{},
		"and_ids", "or_ids", "any", "authenticated", "source_ip", "direct_remote_ip",
		"remote_ip", "header", "url_path", "not_id")
	authenticatedFields = allow(&rbacv3.Principal_Authenticated{}, "principal_name")
	pathMatcherFields   = allow(&matcherv3.PathMatcher{}, "path")
	int32RangeFields    = allow(&typev3.Int32Range{}, "start", "end")
	rbacActions         = map[rbacv3.RBAC_Action]spec.RBACAction{
		rbacv3.RBAC_ALLOW: spec.RBACAllow, rbacv3.RBAC_DENY: spec.RBACDeny, rbacv3.RBAC_LOG: spec.RBACLog,
	}
)

// decodeNetworkRBAC decodes the network filter
// envoy.extensions.filters.network.rbac.v3.RBAC. Both enforcement types
// are accepted: every rule meshlb supports depends only on the
// connection, so deciding once (ONE_TIME_ON_FIRST_BYTE) and on every
// chunk (CONTINUOUS) decide the same.
func decodeNetworkRBAC(a *anypb.Any) (any, error) {
	m := &netrbacv3.RBAC{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := netRBACFields.check(m); err != nil {
		return nil, err
	}
	return decodeRBACFilter(m.GetStatPrefix(), m.GetShadowRulesStatPrefix(), m.GetRules(), m.GetShadowRules())
}

// decodeHTTPRBAC decodes the HTTP filter
// envoy.extensions.filters.http.rbac.v3.RBAC. Per-route configurations
// (RBACPerRoute) have another type and are not accepted.
func decodeHTTPRBAC(a *anypb.Any, _ bool) (any, error) {
	m := &httprbacv3.RBAC{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := httpRBACFields.check(m); err != nil {
		return nil, err
	}
	return decodeRBACFilter(m.GetRulesStatPrefix(), m.GetShadowRulesStatPrefix(), m.GetRules(), m.GetShadowRules())
}

func decodeRBACFilter(prefix, shadowPrefix string, rules, shadow *rbacv3.RBAC) (*spec.RBAC, error) {
	out := &spec.RBAC{StatPrefix: prefix, ShadowStatPrefix: shadowPrefix}
	var err error
	if out.Rules, err = decodeRBACRules(rules); err != nil {
		return nil, within("rules", err)
	}
	if out.Shadow, err = decodeRBACRules(shadow); err != nil {
		return nil, within("shadow_rules", err)
	}
	return out, nil
}

// decodeRBACRules decodes rules, nil when absent, with policies sorted
// by name.
func decodeRBACRules(r *rbacv3.RBAC) (*spec.RBACRules, error) {
	if r == nil {
		return nil, nil
	}
	if err := rbacRulesFields.check(r); err != nil {
		return nil, err
	}
	act, ok := rbacActions[r.GetAction()]
	if !ok {
		return nil, errorf("action", "%s is not supported", r.GetAction())
	}
	out := &spec.RBACRules{Action: act}
	names := make([]string, 0, len(r.GetPolicies()))
	for name := range r.GetPolicies() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p, err := decodeRBACPolicy(r.GetPolicies()[name])
		if err != nil {
			return nil, within("policies["+strconv.Quote(name)+"]", err)
		}
		p.Name = name
		out.Policies = append(out.Policies, p)
	}
	return out, nil
}

func decodeRBACPolicy(p *rbacv3.Policy) (spec.RBACPolicy, error) {
	if err := rbacPolicyFields.check(p); err != nil {
		return spec.RBACPolicy{}, err
	}
	var out spec.RBACPolicy
	for i, pm := range p.GetPermissions() {
		d, err := decodePermission(pm)
		if err != nil {
			return out, within(index("permissions", i), err)
		}
		out.Permissions = append(out.Permissions, d)
	}
	for i, pr := range p.GetPrincipals() {
		d, err := decodePrincipal(pr)
		if err != nil {
			return out, within(index("principals", i), err)
		}
		out.Principals = append(out.Principals, d)
	}
	return out, nil
}
