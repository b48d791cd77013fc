package filterchain

import (
	"fmt"
	"net"

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
	p := c.StatPrefix + ".rbac."
	f, err := rbac.NewFilter(c, p, p+c.ShadowStatPrefix, env.Counter, env.Logger)
	if err != nil {
		return nil, err
	}
	return &rbacFilter{f}, nil
}

// rbacFilter is Envoy's network RBAC filter: once the connection's TLS
// handshake is done, and before any byte reaches the terminal filter, its
// rules allow the connection or close it. Envoy decides on the first
// byte; the connection's facts are the same then.
type rbacFilter struct{ f *rbac.Filter }

var _ ConnFilter = (*rbacFilter)(nil)

func (f *rbacFilter) OnNewConnection(net.Conn) Status { return Continue }

func (f *rbacFilter) OnConnected(c *stream.Conn) Status {
	if f.f.Decide(&rbac.Input{Conn: c}) {
		return Continue
	}
	return Close
}
