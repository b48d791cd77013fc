package filterchain

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/rbac"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

func init() { Register(rbacBuilder{}) }

type rbacBuilder struct{}

func (rbacBuilder) TypeURL() string { return spec.NetworkRBACType }

// Build returns Envoy's network RBAC filter for a *spec.RBAC. Its
// counters are <stat_prefix>.rbac.{allowed,denied} and, for shadow rules,
// <stat_prefix>.rbac.<shadow_rules_stat_prefix>shadow_{allowed,denied}.
func (rbacBuilder) Build(cfg any, env Env) (Filter, error) {
	c, ok := cfg.(*spec.RBAC)
	if !ok {
		return nil, fmt.Errorf("rbac: configuration is %T, want *spec.RBAC", cfg)
	}
	f := &rbacFilter{}
	var err error
	if f.rules, err = compileRules(c.Rules); err != nil {
		return nil, fmt.Errorf("rbac: rules: %w", err)
	}
	if f.shadow, err = compileRules(c.Shadow); err != nil {
		return nil, fmt.Errorf("rbac: shadow_rules: %w", err)
	}
	p := c.StatPrefix + ".rbac."
	f.allowed, f.denied = env.Counter(p+"allowed"), env.Counter(p+"denied")
	sp := p + c.ShadowStatPrefix
	f.shadowAllowed, f.shadowDenied = env.Counter(sp+"shadow_allowed"), env.Counter(sp+"shadow_denied")
	return f, nil
}

func compileRules(r *spec.RBACRules) (*rbac.Engine, error) {
	if r == nil {
		return nil, nil
	}
	return rbac.Compile(r)
}

// rbacFilter is Envoy's network RBAC filter: once the connection's TLS
// handshake is done, and before any byte reaches the terminal filter, its
// rules allow the connection or close it. Envoy decides on the first
// byte; the connection's facts are the same then.
type rbacFilter struct {
	rules, shadow               *rbac.Engine // nil: none
	allowed, denied             *atomic.Uint64
	shadowAllowed, shadowDenied *atomic.Uint64
}

var _ ConnFilter = (*rbacFilter)(nil)

func (f *rbacFilter) OnNewConnection(net.Conn) Status { return Continue }

func (f *rbacFilter) OnConnected(c *stream.Conn) Status {
	in := rbac.Input{Conn: c}
	if f.shadow != nil {
		count(f.shadow.Allowed(&in), f.shadowAllowed, f.shadowDenied)
	}
	if f.rules == nil {
		return Continue
	}
	if count(f.rules.Allowed(&in), f.allowed, f.denied) {
		return Continue
	}
	return Close
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
