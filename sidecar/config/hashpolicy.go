package config

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	hashPolicyFields = allow(&routev3.RouteAction_HashPolicy{},
		"header", "connection_properties", "query_parameter", "cookie", "filter_state", "terminal")
	hashHeaderFields = allow(&routev3.RouteAction_HashPolicy_Header{}, "header_name")
	hashConnFields   = allow(&routev3.RouteAction_HashPolicy_ConnectionProperties{}, "source_ip")
	hashQueryFields  = allow(&routev3.RouteAction_HashPolicy_QueryParameter{}, "name")
	hashCookieFields = allow(&routev3.RouteAction_HashPolicy_Cookie{}, "name", "ttl", "path", "attributes")
	hashStateFields  = allow(&routev3.RouteAction_HashPolicy_FilterState{}, "key")
)

// decodeHashPolicies decodes a route's hash_policy list: header,
// connection_properties.source_ip, query_parameter, cookie (with a ttl,
// a missing cookie is set) and filter_state, each optionally terminal.
func decodeHashPolicies(hps []*routev3.RouteAction_HashPolicy) ([]spec.HashPolicy, error) {
	var out []spec.HashPolicy
	for i, hp := range hps {
		p, err := decodeHashPolicy(hp)
		if err != nil {
			return nil, within(index("hash_policy", i), err)
		}
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// decodeHashPolicy decodes one policy; connection_properties with
// source_ip false hashes nothing (as Envoy) and yields nil.
func decodeHashPolicy(hp *routev3.RouteAction_HashPolicy) (*spec.HashPolicy, error) {
	if err := hashPolicyFields.check(hp); err != nil {
		return nil, err
	}
	p := &spec.HashPolicy{Terminal: hp.GetTerminal()}
	switch {
	case hp.GetHeader() != nil:
		if err := hashHeaderFields.check(hp.GetHeader()); err != nil {
			return nil, within("header", err)
		}
		p.Kind, p.Name = spec.HashHeader, hp.GetHeader().GetHeaderName()
	case hp.GetConnectionProperties() != nil:
		if err := hashConnFields.check(hp.GetConnectionProperties()); err != nil {
			return nil, within("connection_properties", err)
		}
		if !hp.GetConnectionProperties().GetSourceIp() {
			return nil, nil
		}
		p.Kind = spec.HashSourceIP
	case hp.GetQueryParameter() != nil:
		if err := hashQueryFields.check(hp.GetQueryParameter()); err != nil {
			return nil, within("query_parameter", err)
		}
		p.Kind, p.Name = spec.HashQuery, hp.GetQueryParameter().GetName()
	case hp.GetCookie() != nil:
		c := hp.GetCookie()
		if err := hashCookieFields.check(c); err != nil {
			return nil, within("cookie", err)
		}
		p.Kind, p.Name, p.Cookie = spec.HashCookie, c.GetName(), decodeSetCookie(c)
	case hp.GetFilterState() != nil:
		if err := hashStateFields.check(hp.GetFilterState()); err != nil {
			return nil, within("filter_state", err)
		}
		// No meshlb filter sets a hashable filter-state object, so the
		// policy finds no value, as Envoy's for a key no filter set.
		p.Kind, p.Name = spec.HashFilterState, hp.GetFilterState().GetKey()
	default:
		return nil, errorf("policy_specifier", "required")
	}
	return p, nil
}

// decodeSetCookie is how a cookie policy sets a missing cookie: nil
// without a ttl; Max-Age is the ttl's whole seconds, as Envoy (0: a
// session cookie).
func decodeSetCookie(c *routev3.RouteAction_HashPolicy_Cookie) *spec.SetCookie {
	if c.GetTtl() == nil {
		return nil
	}
	sc := &spec.SetCookie{MaxAge: c.GetTtl().GetSeconds(), Path: c.GetPath()}
	for _, a := range c.GetAttributes() {
		sc.Attributes = append(sc.Attributes, spec.CookieAttribute{Name: a.GetName(), Value: a.GetValue()})
	}
	return sc
}
