package server

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	httprbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"

	"github.com/meshlb/meshlb/discovery"
)

// rbacStatPrefix is the stat prefix of the generated RBAC filters, as
// Consul's ("connect_authz").
const rbacStatPrefix = "connect_authz"

// sourceRule is one intention for a destination, ready for RBAC: who it
// covers (its source, minus the sources of intentions that take
// precedence) and what it decides.
type sourceRule struct {
	principal *rbacv3.Principal
	in        discovery.Intention
}

// sourceRules returns the intentions of dest, highest precedence first,
// each with the principal it decides for: its source's SPIFFE IDs less
// those of higher intentions. An intention a higher one covers entirely
// (a wildcard source, or the same source) is dropped.
func sourceRules(mesh *discovery.Mesh, dest string) []sourceRule {
	var out []sourceRule
	var higher []string // exact sources above
	wild := false       // a wildcard source above
	for _, in := range mesh.For(dest) {
		if wild || slices.Contains(higher, in.Source) {
			continue
		}
		p := spiffePrincipal(mesh, in.Source)
		if in.Source == "*" {
			wild = true
			if len(higher) > 0 {
				not := make([]*rbacv3.Principal, 0, len(higher))
				for _, s := range higher {
					not = append(not, spiffePrincipal(mesh, s))
				}
				p = andIDs(p, &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: orIDs(not)}})
			}
		} else {
			higher = append(higher, in.Source)
		}
		out = append(out, sourceRule{principal: p, in: in})
	}
	return out
}

// spiffePrincipal matches the authenticated SPIFFE ID of service name
// ("*": any service) in any datacenter of the trust domain, with a
// safe_regex as Consul emits.
func spiffePrincipal(mesh *discovery.Mesh, name string) *rbacv3.Principal {
	svc := "[^/]+"
	if name != "*" {
		svc = regexp.QuoteMeta(name)
	}
	re := "^spiffe://" + regexp.QuoteMeta(mesh.TrustDomain) + "/ns/" + regexp.QuoteMeta(mesh.Namespace) +
		"/dc/[^/]+/svc/" + svc + "$"
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{
		PrincipalName: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{
			SafeRegex: &matcher.RegexMatcher{Regex: re}}},
	}}}
}

func andIDs(ids ...*rbacv3.Principal) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ids}}}
}

func orIDs(ids []*rbacv3.Principal) *rbacv3.Principal {
	if len(ids) == 1 {
		return ids[0]
	}
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: ids}}}
}

var anyPermission = &rbacv3.Permission{Rule: &rbacv3.Permission_Any{Any: true}}

// needsRBAC reports whether dest's public listener needs an RBAC filter:
// with a default of deny, or any intention for it. A mesh that allows
// everything gets none, so it costs nothing per connection.
func needsRBAC(mesh *discovery.Mesh, dest string) bool {
	return mesh.Enabled() && (!mesh.DefaultAllow || len(mesh.For(dest)) > 0)
}

// l4RBAC returns the RBAC rules for a TCP destination: with a default of
// allow, DENY for the sources of deny intentions; with a default of
// deny, ALLOW for the sources of allow intentions (no policy then denies
// every connection, as Envoy). An L7 intention on a TCP service cannot be
// enforced per request and counts as deny.
func l4RBAC(mesh *discovery.Mesh, dest string) *rbacv3.RBAC {
	rules := sourceRules(mesh, dest)
	action, want := rbacv3.RBAC_ALLOW, discovery.ActionAllow
	if mesh.DefaultAllow {
		action, want = rbacv3.RBAC_DENY, discovery.ActionDeny
	}
	out := &rbacv3.RBAC{Action: action, Policies: map[string]*rbacv3.Policy{}}
	for i, r := range rules {
		act := r.in.Action
		if len(r.in.Permissions) > 0 {
			act = discovery.ActionDeny
		}
		if act != want {
			continue
		}
		out.Policies[policyName(i)] = &rbacv3.Policy{Permissions: []*rbacv3.Permission{anyPermission},
			Principals: []*rbacv3.Principal{r.principal}}
	}
	return out
}

// l7RBAC returns the RBAC rules for an HTTP destination. An L7
// intention's permissions apply in order, the first match deciding, and a
// request none matches is denied, as Consul's: its allowed requests are
// each allow permission's match less the matches of the permissions
// before it.
func l7RBAC(mesh *discovery.Mesh, dest string) (*rbacv3.RBAC, error) {
	rules := sourceRules(mesh, dest)
	action := rbacv3.RBAC_ALLOW
	if mesh.DefaultAllow {
		action = rbacv3.RBAC_DENY
	}
	out := &rbacv3.RBAC{Action: action, Policies: map[string]*rbacv3.Policy{}}
	for i, r := range rules {
		allowed, err := allowedRequests(r.in)
		if err != nil {
			return nil, fmt.Errorf("intention %s => %s: %w", r.in.Source, r.in.Destination, err)
		}
		var perm *rbacv3.Permission
		switch {
		case action == rbacv3.RBAC_ALLOW && allowed != nil:
			perm = allowed
		case action == rbacv3.RBAC_DENY && allowed == nil:
			perm = anyPermission
		case action == rbacv3.RBAC_DENY && allowed != anyPermission:
			perm = &rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: allowed}}
		}
		if perm == nil {
			continue
		}
		out.Policies[policyName(i)] = &rbacv3.Policy{Permissions: []*rbacv3.Permission{perm},
			Principals: []*rbacv3.Principal{r.principal}}
	}
	return out, nil
}

// allowedRequests returns the requests in allows: every request
// (anyPermission) for an L4 allow, nil for none (an L4 deny, or no allow
// permission), else the or of its allow permissions' effective matches.
func allowedRequests(in discovery.Intention) (*rbacv3.Permission, error) {
	if len(in.Permissions) == 0 {
		if in.Action == discovery.ActionAllow {
			return anyPermission, nil
		}
		return nil, nil
	}
	var allows, before []*rbacv3.Permission
	for _, p := range in.Permissions {
		m, err := permissionMatch(p)
		if err != nil {
			return nil, err
		}
		if p.Action == discovery.ActionAllow {
			eff := m
			if len(before) > 0 {
				eff = andRules(m, &rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: orRules(before)}})
			}
			allows = append(allows, eff)
		}
		before = append(before, m)
	}
	if len(allows) == 0 {
		return nil, nil
	}
	return orRules(allows), nil
}

// permissionMatch returns the requests p matches: all of its path,
// methods and headers.
func permissionMatch(p discovery.Permission) (*rbacv3.Permission, error) {
	var rules []*rbacv3.Permission
	if pm := pathMatcher(p); pm != nil {
		rules = append(rules, &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: pm}})
	}
	if len(p.Methods) > 0 {
		quoted := make([]string, len(p.Methods))
		for i, m := range p.Methods {
			quoted[i] = regexp.QuoteMeta(m)
		}
		rules = append(rules, headerRule(&route.HeaderMatcher{Name: ":method",
			HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
				MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: strings.Join(quoted, "|")}}}}}))
	}
	for _, h := range p.Headers {
		if h.Regex != "" {
			if _, err := regexp.Compile(h.Regex); err != nil {
				return nil, fmt.Errorf("header %q: regex: %w", h.Name, err)
			}
		}
		rules = append(rules, headerRule(headerMatcher(h)))
	}
	switch len(rules) {
	case 0:
		return anyPermission, nil
	case 1:
		return rules[0], nil
	}
	return andRules(rules...), nil
}

func pathMatcher(p discovery.Permission) *matcher.PathMatcher {
	var sm *matcher.StringMatcher
	switch {
	case p.PathExact != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: p.PathExact}}
	case p.PathPrefix != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: p.PathPrefix}}
	case p.PathRegex != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: p.PathRegex}}}
	default:
		return nil
	}
	return &matcher.PathMatcher{Rule: &matcher.PathMatcher_Path{Path: sm}}
}

func headerRule(h *route.HeaderMatcher) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: h}}
}

func andRules(rules ...*rbacv3.Permission) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: rules}}}
}

func orRules(rules []*rbacv3.Permission) *rbacv3.Permission {
	if len(rules) == 1 {
		return rules[0]
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: rules}}}
}

func policyName(i int) string { return fmt.Sprintf("consul-intentions-%d", i) }

// networkRBACFilter returns dest's network RBAC filter, to run before
// tcp_proxy.
func networkRBACFilter(mesh *discovery.Mesh, dest string) (*listener.Filter, error) {
	return typedFilter(wellknown.RoleBasedAccessControl, &netrbac.RBAC{StatPrefix: rbacStatPrefix, Rules: l4RBAC(mesh, dest)})
}

// httpRBACFilter returns dest's HTTP RBAC filter, to run before the
// router.
func httpRBACFilter(mesh *discovery.Mesh, dest string) (*hcm.HttpFilter, error) {
	rules, err := l7RBAC(mesh, dest)
	if err != nil {
		return nil, err
	}
	a, err := marshalAny(&httprbac.RBAC{Rules: rules})
	if err != nil {
		return nil, err
	}
	return &hcm.HttpFilter{Name: wellknown.HTTPRoleBasedAccessControl, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: a}}, nil
}
