package httpfilter

import (
	"fmt"

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
	p := "http." + env.StatPrefix + ".rbac."
	f, err := rbac.NewFilter(c, p+c.StatPrefix, p+c.ShadowStatPrefix, env.counter, env.Logger)
	if err != nil {
		return nil, err
	}
	return &rbacFilter{f: f, reply: Reply{Status: 403, Body: "RBAC: access denied"}}, nil
}

// rbacFilter is Envoy's HTTP RBAC filter: a request its rules deny gets
// 403 "RBAC: access denied"; shadow rules are only counted.
type rbacFilter struct {
	f     *rbac.Filter
	reply Reply
}

func (f *rbacFilter) RequestHeaders(s *Stream) Status {
	if f.f.Decide(&rbac.Input{Conn: s.Conn, Request: s.Request}) {
		return Continue
	}
	s.Reply = f.reply
	return StopReply
}
