package httpfilter

import (
	"fmt"
	"strings"

	"github.com/meshlb/meshlb/sidecar/rbac"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// of returns the filters a request routed to routeIndex runs (-1: no
// route matched): the route's own list, or the chain's.
func (c *Chain) of(routeIndex int) *list {
	if uint(routeIndex) < uint(len(c.routes)) && c.routes[routeIndex] != nil {
		return c.routes[routeIndex]
	}
	return c.base
}

// Verdict is what an HTTP filter would do with a request.
type Verdict struct {
	// Stops says the filter would answer the request itself, with Status.
	Stops  bool `json:"stops"`
	Status int  `json:"status,omitempty"`
	// Detail says why, for people.
	Detail string `json:"detail"`
	// RBAC and Shadow are an RBAC filter's decisions; nil otherwise.
	RBAC   *rbac.Decision `json:"rbac,omitempty"`
	Shadow *rbac.Decision `json:"shadow,omitempty"`
}

// Explainer is a Filter that can say what it would do with the request of
// s, without acting, counting or changing s (meshlb explain).
type Explainer interface {
	Explain(s *Stream) Verdict
}

// Step is one filter of a chain with its verdict.
type Step struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
}

// Explain returns the verdict of each filter a request routed to
// routeIndex (-1: no route) would run, in order, up to the first that
// would stop it. A filter without an [Explainer] is reported as acting
// without saying how. A nil chain has no filters.
func (c *Chain) Explain(s *Stream, routeIndex int) []Step {
	if c == nil {
		return nil
	}
	l := c.of(routeIndex)
	var out []Step
	for i, f := range l.req {
		v := Verdict{Detail: fmt.Sprintf("%s: runs (no explanation for this filter type)", strings.TrimPrefix(fmt.Sprintf("%T", f), "*httpfilter."))}
		if e, ok := f.(Explainer); ok {
			v = e.Explain(s)
		}
		out = append(out, Step{Name: l.names[i], Verdict: v})
		if v.Stops {
			break
		}
	}
	return out
}

var (
	_ Explainer = (*rbacFilter)(nil)
	_ Explainer = (*localRateLimit)(nil)
)

// Explain reports the decision of the rules on the request, as
// RequestHeaders makes it, without counting it.
func (f *rbacFilter) Explain(s *Stream) Verdict {
	rules, shadow := f.f.Explain(&rbac.Input{Conn: s.Conn, Request: s.Request})
	v := Verdict{RBAC: rules, Shadow: shadow, Detail: rbac.Describe(rules, shadow)}
	if rules != nil && !rules.Allowed {
		v.Stops, v.Status = true, f.reply.Status
	}
	return v
}

// Explain reports the bucket's tokens and what a request arriving now
// would get: a token, or the local reply when the limit is enforced.
func (f *localRateLimit) Explain(*Stream) Verdict {
	cfg := f.bucket.Config()
	tokens := f.bucket.Tokens()
	v := Verdict{Detail: fmt.Sprintf("token bucket holds %d of %d tokens (+%d every %v); enabled for %s, enforced for %s",
		tokens, cfg.MaxTokens, cfg.TokensPerFill, cfg.FillInterval, percent(f.enabled), percent(f.enforced))}
	if tokens == 0 && f.enabled.Numerator > 0 {
		v.Detail += ": a request now would be rate limited"
		if always(f.enforced) && always(f.enabled) {
			v.Stops, v.Status = true, f.reply.Status
		}
	}
	return v
}

// percent renders p as roll applies it: 0% for a numerator of 0 and at
// least 100% when always(p) holds, whatever the denominator.
func percent(p spec.Fraction) string {
	switch {
	case p.Numerator == 0:
		return "0%"
	case p.Denominator == 0:
		return "100%"
	}
	return fmt.Sprintf("%g%%", 100*float64(p.Numerator)/float64(p.Denominator))
}
