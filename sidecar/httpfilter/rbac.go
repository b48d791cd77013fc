package httpfilter

import (
	"fmt"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/rbac"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func init() { Register(rbacBuilder{}) }

type rbacBuilder struct{}

func (rbacBuilder) TypeURL() string { return spec.HTTPRBACType }

// Build compiles a *spec.RBAC into Envoy's HTTP RBAC filter. Its counters
// are http.<stat_prefix>.rbac.<rules_stat_prefix>{allowed,denied} and
// http.<stat_prefix>.rbac.<shadow_rules_stat_prefix>shadow_{allowed,denied}
// (stat_prefix is the connection manager's). Without rules nor shadow
// rules it does nothing and is left out.
func (rbacBuilder) Build(cfg any, env Env) (Filter, error) {
	c, ok := cfg.(*spec.RBAC)
	if !ok {
		return nil, fmt.Errorf("rbac: config is %T, want *spec.RBAC", cfg)
	}
	if c.Rules == nil && c.Shadow == nil {
		return nil, nil
	}
	f := &rbacFilter{reply: Reply{Status: 403, Body: "RBAC: access denied"}}
	var err error
	if c.Rules != nil {
		if f.rules, err = rbac.Compile(c.Rules); err != nil {
			return nil, fmt.Errorf("rbac: rules: %w", err)
		}
	}
	if c.Shadow != nil {
		if f.shadow, err = rbac.Compile(c.Shadow); err != nil {
			return nil, fmt.Errorf("rbac: shadow_rules: %w", err)
		}
	}
	p := "http." + env.StatPrefix + ".rbac."
	f.allowed, f.denied = env.counter(p+c.StatPrefix+"allowed"), env.counter(p+c.StatPrefix+"denied")
	sp := p + c.ShadowStatPrefix
	f.shadowAllowed, f.shadowDenied = env.counter(sp+"shadow_allowed"), env.counter(sp+"shadow_denied")
	return f, nil
}

// rbacFilter is Envoy's HTTP RBAC filter: a request its rules deny gets
// 403 "RBAC: access denied"; shadow rules are only counted.
type rbacFilter struct {
	rules, shadow               *rbac.Engine // nil: none
	reply                       Reply
	allowed, denied             *atomic.Uint64
	shadowAllowed, shadowDenied *atomic.Uint64
}

func (f *rbacFilter) RequestHeaders(s *Stream) Status {
	in := rbac.Input{Conn: s.Conn, Request: s.Request}
	if f.shadow != nil {
		count(f.shadow.Allowed(&in), f.shadowAllowed, f.shadowDenied)
	}
	if f.rules == nil || count(f.rules.Allowed(&in), f.allowed, f.denied) {
		return Continue
	}
	s.Reply = f.reply
	return StopReply
}

// count adds one to allowed or denied, and returns ok.
func count(ok bool, allowed, denied *atomic.Uint64) bool {
	if ok {
		allowed.Add(1)
	} else {
		denied.Add(1)
	}
	return ok
}
