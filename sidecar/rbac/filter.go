package rbac

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Filter is what the network and HTTP RBAC filters share: the compiled
// rules and shadow rules of a spec.RBAC and their counters. Immutable
// once built, but for the denial log's rate limit; Decide allocates
// nothing, except in the one denial a second it logs.
type Filter struct {
	rules, shadow               *Engine // nil: none
	allowed, denied             *atomic.Uint64
	shadowAllowed, shadowDenied *atomic.Uint64
	log                         denyLog
}

// NewFilter compiles c. Decisions count in counter(rulesPrefix+"allowed")
// and counter(rulesPrefix+"denied"); shadow decisions in
// counter(shadowPrefix+"shadow_allowed") and
// counter(shadowPrefix+"shadow_denied"). Denials by the rules are logged
// on logger (nil: not logged), at most one line a second with the count
// of those left out. Errors name the field.
func NewFilter(c *spec.RBAC, rulesPrefix, shadowPrefix string, counter func(string) *atomic.Uint64,
	logger *slog.Logger) (*Filter, error) {
	f := &Filter{}
	f.log.logger, f.log.filter = logger, rulesPrefix
	var err error
	if c.Rules != nil {
		if f.rules, err = Compile(c.Rules); err != nil {
			return nil, fmt.Errorf("rbac: rules: %w", err)
		}
	}
	if c.Shadow != nil {
		if f.shadow, err = Compile(c.Shadow); err != nil {
			return nil, fmt.Errorf("rbac: shadow_rules: %w", err)
		}
	}
	f.allowed, f.denied = counter(rulesPrefix+"allowed"), counter(rulesPrefix+"denied")
	f.shadowAllowed, f.shadowDenied = counter(shadowPrefix+"shadow_allowed"), counter(shadowPrefix+"shadow_denied")
	return f, nil
}

// Decide counts in's shadow decision, if there are shadow rules, and
// reports whether the rules allow in (no rules: allowed, not counted). A
// denial is counted and logged.
func (f *Filter) Decide(in *Input) bool {
	if f.shadow != nil {
		count(f.shadow.Allowed(in), f.shadowAllowed, f.shadowDenied)
	}
	if f.rules == nil || count(f.rules.Allowed(in), f.allowed, f.denied) {
		return true
	}
	f.log.denied(f.rules, in)
	return false
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
