package filterchain

import (
	"fmt"

	"github.com/meshlb/meshlb/sidecar/rbac"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Verdict is what a network filter would do with a connection.
type Verdict struct {
	// Closes says the filter would close the connection.
	Closes bool `json:"closes"`
	// Detail says why, for people.
	Detail string `json:"detail"`
	// RBAC and Shadow are an RBAC filter's decisions; nil otherwise.
	RBAC   *rbac.Decision `json:"rbac,omitempty"`
	Shadow *rbac.Decision `json:"shadow,omitempty"`
}

// Explainer is a Filter that can say what it would do with a connection
// described by c, without acting or counting (meshlb explain).
type Explainer interface {
	Explain(c *stream.Conn) Verdict
}

var (
	_ Explainer = (*rbacFilter)(nil)
	_ Explainer = (*rateLimit)(nil)
)

// Explain reports the decision of the rules on c, as OnConnected makes
// it, without counting it.
func (f *rbacFilter) Explain(c *stream.Conn) Verdict {
	rules, shadow := f.f.Explain(&rbac.Input{Conn: c})
	return Verdict{Closes: rules != nil && !rules.Allowed, Detail: rbac.Describe(rules, shadow), RBAC: rules, Shadow: shadow}
}

// Explain reports the bucket's tokens: a connection accepted now takes
// one, or is closed when there is none.
func (r *rateLimit) Explain(*stream.Conn) Verdict {
	cfg := r.bucket.Config()
	tokens := r.bucket.Tokens()
	v := Verdict{Detail: fmt.Sprintf("token bucket holds %d of %d tokens (+%d every %v)",
		tokens, cfg.MaxTokens, cfg.TokensPerFill, cfg.FillInterval)}
	switch {
	case r.disabled:
		v.Detail = "disabled; " + v.Detail
	case tokens == 0:
		v.Closes = true
		v.Detail += ": a new connection would be closed"
	}
	return v
}
