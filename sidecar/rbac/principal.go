package rbac

import (
	"fmt"
	"net/netip"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// principal is a compiled envoy.config.rbac.v3.Principal.
type principal struct {
	kind   spec.PrincipalKind
	name   *stringMatcher // authenticated principal_name; nil: any
	str    stringMatcher  // url_path
	cidr   netip.Prefix
	header headerMatcher
	subs   []principal // and_ids, or_ids; not_id is subs[0]
}

func compilePrincipal(p *spec.Principal) (principal, error) {
	out := principal{kind: p.Kind, cidr: p.CIDR}
	var err error
	switch p.Kind {
	case spec.PrinAuthenticated:
		if p.Name != nil {
			var m stringMatcher
			m, err = compileString(*p.Name)
			out.name = &m
		}
	case spec.PrinHeader:
		out.header, err = compileHeader(p.Header)
	case spec.PrinURLPath:
		out.str, err = compileString(p.Match)
	case spec.PrinAnd, spec.PrinOr, spec.PrinNot:
		if p.Kind == spec.PrinNot && len(p.IDs) != 1 {
			return out, fmt.Errorf("not_id: one principal required")
		}
		for i := range p.IDs {
			sub, err := compilePrincipal(&p.IDs[i])
			if err != nil {
				return out, fmt.Errorf("ids[%d]: %w", i, err)
			}
			out.subs = append(out.subs, sub)
		}
	}
	return out, err
}

func (p *principal) match(in *Input) bool {
	c := in.Conn
	switch p.kind {
	case spec.PrinAny:
		return true
	case spec.PrinAuthenticated:
		return c != nil && authenticated(p.name, c.TLS)
	case spec.PrinSourceIP, spec.PrinRemoteIP:
		return c != nil && inPrefix(p.cidr, c.Remote)
	case spec.PrinDirectRemoteIP:
		return c != nil && inPrefix(p.cidr, c.DirectRemote)
	case spec.PrinHeader:
		return p.header.match(in.Request)
	case spec.PrinURLPath:
		return in.Request != nil && p.str.matchBytes(in.Request.Path)
	case spec.PrinAnd:
		for i := range p.subs {
			if !p.subs[i].match(in) {
				return false
			}
		}
		return true
	case spec.PrinOr:
		return anyPrincipal(p.subs, in)
	case spec.PrinNot:
		return !p.subs[0].match(in)
	}
	return false
}

// authenticated matches a TLS peer as Envoy's authenticated principal
// does: any TLS connection when name is nil; else any of the peer
// certificate's URI SANs, then any of its DNS SANs, then its subject
// ("" without a certificate).
func authenticated(name *stringMatcher, t *stream.TLS) bool {
	if t == nil {
		return false
	}
	if name == nil {
		return true
	}
	for _, u := range t.PeerURIs {
		if name.matchString(u) {
			return true
		}
	}
	for _, d := range t.PeerDNS {
		if name.matchString(d) {
			return true
		}
	}
	return name.matchString(t.PeerSubject)
}
