package config

import (
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	hashPolicyFields = allow(&routev3.RouteAction_HashPolicy{},
		"header", "connection_properties", "query_parameter", "cookie", "terminal")
	hashHeaderFields = allow(&routev3.RouteAction_HashPolicy_Header{}, "header_name")
	hashConnFields   = allow(&routev3.RouteAction_HashPolicy_ConnectionProperties{}, "source_ip")
	hashQueryFields  = allow(&routev3.RouteAction_HashPolicy_QueryParameter{}, "name")
	// A cookie's ttl has the proxy set the cookie when it is missing,
	// which meshlb does not do yet; path only matters then.
	hashCookieFields = allow(&routev3.RouteAction_HashPolicy_Cookie{}, "name", "path")
)

// decodeHashPolicies decodes a route's hash_policy list: header,
// connection_properties.source_ip, query_parameter and cookie (name; a
// ttl, to set a missing cookie, is rejected), each optionally terminal.
// filter_state is rejected naming the field.
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
		if err := hashCookieFields.check(hp.GetCookie()); err != nil {
			return nil, within("cookie", err)
		}
		p.Kind, p.Name = spec.HashCookie, hp.GetCookie().GetName()
	default:
		return nil, errorf("policy_specifier", "required")
	}
	return p, nil
}
