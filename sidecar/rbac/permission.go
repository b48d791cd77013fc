package rbac

import (
	"fmt"
	"net/netip"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// permission is a compiled envoy.config.rbac.v3.Permission.
type permission struct {
	kind   spec.PermissionKind
	header headerMatcher
	str    stringMatcher // url_path, requested_server_name
	cidr   netip.Prefix
	lo, hi uint32       // destination_port (lo), destination_port_range [lo, hi)
	subs   []permission // and_rules, or_rules; not_rule is subs[0]
}

func compilePermission(p *spec.Permission) (permission, error) {
	out := permission{kind: p.Kind, cidr: p.CIDR, lo: p.Port, hi: p.PortEnd}
	var err error
	switch p.Kind {
	case spec.PermHeader:
		out.header, err = compileHeader(p.Header)
	case spec.PermURLPath, spec.PermServerName:
		out.str, err = compileString(p.Match)
	case spec.PermAnd, spec.PermOr, spec.PermNot:
		if p.Kind == spec.PermNot && len(p.Rules) != 1 {
			return out, fmt.Errorf("not_rule: one rule required")
		}
		for i := range p.Rules {
			sub, err := compilePermission(&p.Rules[i])
			if err != nil {
				return out, fmt.Errorf("rules[%d]: %w", i, err)
			}
			out.subs = append(out.subs, sub)
		}
	}
	return out, err
}

func (p *permission) match(in *Input) bool {
	switch p.kind {
	case spec.PermAny:
		return true
	case spec.PermHeader:
		return p.header.match(in.Request)
	case spec.PermURLPath:
		return in.Request != nil && p.str.matchBytes(in.Request.Path)
	case spec.PermDestinationIP:
		return in.Conn != nil && inPrefix(p.cidr, in.Conn.Local)
	case spec.PermDestinationPort:
		return in.Conn != nil && uint32(in.Conn.Local.Port()) == p.lo
	case spec.PermDestinationPortRange:
		if in.Conn == nil {
			return false
		}
		port := uint32(in.Conn.Local.Port())
		return port >= p.lo && port < p.hi
	case spec.PermServerName:
		return in.Conn != nil && in.Conn.TLS != nil && p.str.matchString(in.Conn.TLS.ServerName)
	case spec.PermAnd:
		for i := range p.subs {
			if !p.subs[i].match(in) {
				return false
			}
		}
		return true
	case spec.PermOr:
		return anyPermission(p.subs, in)
	case spec.PermNot:
		return !p.subs[0].match(in)
	}
	return false
}
