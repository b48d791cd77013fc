package rbac

import (
	"fmt"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Decision is what a set of rules decides on an input, and why.
type Decision struct {
	// Action is the rules' action: ALLOW, DENY or LOG.
	Action string `json:"action"`
	// Policy is the first policy (in name order) the input matches; ""
	// when none does.
	Policy  string `json:"policy,omitempty"`
	Allowed bool   `json:"allowed"`
}

// Explain returns the decision of e on in, with the same code as
// [Engine.Allowed].
func (e *Engine) Explain(in *Input) Decision {
	name, matched := e.Match(in)
	return Decision{Action: actionNames[e.action], Policy: name, Allowed: e.allows(matched)}
}

var actionNames = map[spec.RBACAction]string{spec.RBACAllow: "ALLOW", spec.RBACDeny: "DENY", spec.RBACLog: "LOG"}

// Explain returns the decisions the filter's rules and shadow rules make
// on in, as [Filter.Decide] makes them, without counting them. A nil
// Decision means there are no such rules (no rules allow everything).
func (f *Filter) Explain(in *Input) (rules, shadow *Decision) {
	if f.rules != nil {
		d := f.rules.Explain(in)
		rules = &d
	}
	if f.shadow != nil {
		d := f.shadow.Explain(in)
		shadow = &d
	}
	return rules, shadow
}

// String renders d for people: the outcome, the policy and the action
// that made it.
func (d *Decision) String() string {
	verdict := "denied"
	if d.Allowed {
		verdict = "allowed"
	}
	if d.Policy == "" {
		return fmt.Sprintf("%s: no policy matched (action %s)", verdict, d.Action)
	}
	return fmt.Sprintf("%s: policy %q matched (action %s)", verdict, d.Policy, d.Action)
}

// Describe renders for people the decisions of [Filter.Explain]: the
// rules' (nil: none, which allows), then the shadow rules', if any.
func Describe(rules, shadow *Decision) string {
	s := "no rules: allowed"
	if rules != nil {
		s = rules.String()
	}
	if shadow != nil {
		s += "; shadow rules: " + shadow.String()
	}
	return s
}
