// Package rbac compiles and evaluates Envoy's role-based access control
// rules (envoy.config.rbac.v3.RBAC), as the network and HTTP RBAC filters
// use them: a connection or request is allowed or denied by the first
// policy, in name order, whose permissions and principals it matches.
//
// An [Engine] is compiled once per configuration snapshot and is
// immutable; [Engine.Allowed] does no allocation, locking or I/O.
// Principals are read from a [stream.Conn] (addresses and the peer
// certificate's SPIFFE ID), permissions from the connection and, in the
// HTTP filter, the request head.
package rbac

import (
	"fmt"
	"net/netip"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Input is what a decision is made on.
type Input struct {
	// Conn is the downstream connection; nil knows nothing of it, so no
	// address or authenticated rule matches.
	Conn *stream.Conn
	// Request is the request head; nil in the network filter, where
	// header rules see no header and url_path never matches.
	Request *route.Request
}

// Engine is a compiled set of rules. Immutable and safe for concurrent
// use.
type Engine struct {
	action   spec.RBACAction
	policies []policy
}

type policy struct {
	name        string
	permissions []permission
	principals  []principal
}

// Compile compiles r. Policies are evaluated in r's order (decoders sort
// them by name); the decision does not depend on the order, only which
// policy is reported as matching.
func Compile(r *spec.RBACRules) (*Engine, error) {
	e := &Engine{action: r.Action}
	for _, p := range r.Policies {
		cp := policy{name: p.Name}
		for i := range p.Permissions {
			m, err := compilePermission(&p.Permissions[i])
			if err != nil {
				return nil, fmt.Errorf("policy %q: permissions[%d]: %w", p.Name, i, err)
			}
			cp.permissions = append(cp.permissions, m)
		}
		for i := range p.Principals {
			m, err := compilePrincipal(&p.Principals[i])
			if err != nil {
				return nil, fmt.Errorf("policy %q: principals[%d]: %w", p.Name, i, err)
			}
			cp.principals = append(cp.principals, m)
		}
		e.policies = append(e.policies, cp)
	}
	return e, nil
}

// Allowed reports whether the rules allow in: with ALLOW when a policy
// matches (so ALLOW without policies denies everything), with DENY when
// none does (DENY without policies allows everything), and always with
// LOG, as Envoy.
func (e *Engine) Allowed(in *Input) bool {
	_, matched := e.Match(in)
	return e.allows(matched)
}

// allows is the decision of e's action when a policy matched or not.
func (e *Engine) allows(matched bool) bool {
	switch e.action {
	case spec.RBACAllow:
		return matched
	case spec.RBACDeny:
		return !matched
	}
	return true
}

// Match returns the name of the first policy in matches, and whether
// there is one.
func (e *Engine) Match(in *Input) (string, bool) {
	for i := range e.policies {
		p := &e.policies[i]
		if anyPermission(p.permissions, in) && anyPrincipal(p.principals, in) {
			return p.name, true
		}
	}
	return "", false
}

func anyPermission(ps []permission, in *Input) bool {
	for i := range ps {
		if ps[i].match(in) {
			return true
		}
	}
	return false
}

func anyPrincipal(ps []principal, in *Input) bool {
	for i := range ps {
		if ps[i].match(in) {
			return true
		}
	}
	return false
}

// inPrefix reports whether a's address is in p; an invalid a (unknown)
// is in none.
func inPrefix(p netip.Prefix, a netip.AddrPort) bool {
	return a.IsValid() && p.Contains(a.Addr().Unmap())
}
