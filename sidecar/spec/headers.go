package spec

// AppendAction is what a header to add does when the header exists, as
// Envoy's HeaderValueOption.HeaderAppendAction.
type AppendAction int

// Append actions, in Envoy's enum order.
const (
	AppendIfExistsOrAdd    AppendAction = iota // add one more value (the default)
	AddIfAbsent                                // add only if the header is absent
	OverwriteIfExistsOrAdd                     // replace every value, or add
	OverwriteIfExists                          // replace every value, only if present
)

// HeaderAdd is one header to add with a value format (Envoy's
// HeaderValueOption): Value may hold %…% substitutions.
type HeaderAdd struct {
	Name   string // lower case
	Value  string
	Action AppendAction
	// KeepEmpty adds the header even when its value formats empty
	// (keep_empty_value).
	KeepEmpty bool
}

// HeaderMutations are the header lists of one level of a route
// configuration: the route configuration, a virtual host or a route.
type HeaderMutations struct {
	RequestAdd     []HeaderAdd
	RequestRemove  []string // lower case
	ResponseAdd    []HeaderAdd
	ResponseRemove []string // lower case
}

// Empty reports whether m changes nothing.
func (m *HeaderMutations) Empty() bool {
	return len(m.RequestAdd)+len(m.RequestRemove)+len(m.ResponseAdd)+len(m.ResponseRemove) == 0
}

// RegexRewrite rewrites the path with a regular expression (Envoy's
// RouteAction.regex_rewrite): every match of Pattern (RE2) is replaced by
// Substitution, in which \1 … \9 name capture groups.
type RegexRewrite struct {
	Pattern, Substitution string
}
