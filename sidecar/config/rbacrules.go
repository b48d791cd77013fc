package config

import (
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// decodePermission decodes an RBAC permission (one of its rules).
func decodePermission(p *rbacv3.Permission) (spec.Permission, error) {
	if err := permissionFields.check(p); err != nil {
		return spec.Permission{}, err
	}
	var out spec.Permission
	var err error
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		out.Kind = spec.PermAny
	case *rbacv3.Permission_Header:
		out.Kind = spec.PermHeader
		out.Header, err = decodeHeaderMatch(r.Header)
		err = wrapIf("header", err)
	case *rbacv3.Permission_UrlPath:
		out.Kind = spec.PermURLPath
		out.Match, err = decodePathMatcher(r.UrlPath)
		err = wrapIf("url_path", err)
	case *rbacv3.Permission_DestinationIp:
		out.Kind = spec.PermDestinationIP
		out.CIDR, err = decodeCIDR(r.DestinationIp)
		err = wrapIf("destination_ip", err)
	case *rbacv3.Permission_DestinationPort:
		out.Kind, out.Port = spec.PermDestinationPort, r.DestinationPort
	case *rbacv3.Permission_DestinationPortRange:
		out.Kind = spec.PermDestinationPortRange
		if err = int32RangeFields.check(r.DestinationPortRange); err != nil {
			return out, within("destination_port_range", err)
		}
		start, end := r.DestinationPortRange.GetStart(), r.DestinationPortRange.GetEnd()
		if start < 0 || end < start || end > 65536 {
			return out, errorf("destination_port_range", "[%d, %d) is not a port range", start, end)
		}
		out.Port, out.PortEnd = uint32(start), uint32(end)
	case *rbacv3.Permission_RequestedServerName:
		out.Kind = spec.PermServerName
		out.Match, err = decodeStringMatch(r.RequestedServerName)
		err = wrapIf("requested_server_name", err)
	case *rbacv3.Permission_AndRules:
		out.Kind = spec.PermAnd
		out.Rules, err = decodePermissions(r.AndRules)
		err = wrapIf("and_rules", err)
	case *rbacv3.Permission_OrRules:
		out.Kind = spec.PermOr
		out.Rules, err = decodePermissions(r.OrRules)
		err = wrapIf("or_rules", err)
	case *rbacv3.Permission_NotRule:
		out.Kind = spec.PermNot
		var sub spec.Permission
		sub, err = decodePermission(r.NotRule)
		out.Rules = []spec.Permission{sub}
		err = wrapIf("not_rule", err)
	default: // unreachable: validation requires a rule, check rejects others
		err = errorf("rule", "required")
	}
	return out, err
}

func decodePermissions(s *rbacv3.Permission_Set) ([]spec.Permission, error) {
	var out []spec.Permission
	for i, p := range s.GetRules() {
		d, err := decodePermission(p)
		if err != nil {
			return nil, within(index("rules", i), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// decodePrincipal decodes an RBAC principal (one of its identifiers).
func decodePrincipal(p *rbacv3.Principal) (spec.Principal, error) {
	if err := principalFields.check(p); err != nil {
		return spec.Principal{}, err
	}
	var out spec.Principal
	var err error
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		out.Kind = spec.PrinAny
	case *rbacv3.Principal_Authenticated_:
		out.Kind = spec.PrinAuthenticated
		out.Name, err = decodeAuthenticated(id.Authenticated)
		err = wrapIf("authenticated", err)
	case *rbacv3.Principal_SourceIp:
		out.Kind = spec.PrinSourceIP
		out.CIDR, err = decodeCIDR(id.SourceIp)
		err = wrapIf("source_ip", err)
	case *rbacv3.Principal_DirectRemoteIp:
		out.Kind = spec.PrinDirectRemoteIP
		out.CIDR, err = decodeCIDR(id.DirectRemoteIp)
		err = wrapIf("direct_remote_ip", err)
	case *rbacv3.Principal_RemoteIp:
		out.Kind = spec.PrinRemoteIP
		out.CIDR, err = decodeCIDR(id.RemoteIp)
		err = wrapIf("remote_ip", err)
	case *rbacv3.Principal_Header:
		out.Kind = spec.PrinHeader
		out.Header, err = decodeHeaderMatch(id.Header)
		err = wrapIf("header", err)
	case *rbacv3.Principal_UrlPath:
		out.Kind = spec.PrinURLPath
		out.Match, err = decodePathMatcher(id.UrlPath)
		err = wrapIf("url_path", err)
	case *rbacv3.Principal_AndIds:
		out.Kind = spec.PrinAnd
		out.IDs, err = decodePrincipals(id.AndIds)
		err = wrapIf("and_ids", err)
	case *rbacv3.Principal_OrIds:
		out.Kind = spec.PrinOr
		out.IDs, err = decodePrincipals(id.OrIds)
		err = wrapIf("or_ids", err)
	case *rbacv3.Principal_NotId:
		out.Kind = spec.PrinNot
		var sub spec.Principal
		sub, err = decodePrincipal(id.NotId)
		out.IDs = []spec.Principal{sub}
		err = wrapIf("not_id", err)
	default:
		err = errorf("identifier", "required")
	}
	return out, err
}

func decodePrincipals(s *rbacv3.Principal_Set) ([]spec.Principal, error) {
	var out []spec.Principal
	for i, p := range s.GetIds() {
		d, err := decodePrincipal(p)
		if err != nil {
			return nil, within(index("ids", i), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// decodeAuthenticated decodes an authenticated principal: its
// principal_name, or nil (any TLS peer).
func decodeAuthenticated(a *rbacv3.Principal_Authenticated) (*spec.StringMatch, error) {
	if err := authenticatedFields.check(a); err != nil {
		return nil, err
	}
	if a.GetPrincipalName() == nil {
		return nil, nil
	}
	m, err := decodeStringMatch(a.GetPrincipalName())
	if err != nil {
		return nil, within("principal_name", err)
	}
	return &m, nil
}

// decodePathMatcher decodes a PathMatcher: a StringMatcher on the path
// without its query.
func decodePathMatcher(p *matcherv3.PathMatcher) (spec.StringMatch, error) {
	if err := pathMatcherFields.check(p); err != nil {
		return spec.StringMatch{}, err
	}
	m, err := decodeStringMatch(p.GetPath())
	return m, wrapIf("path", err)
}
