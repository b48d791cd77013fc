package rbac

import (
	"fmt"
	"regexp"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// stringMatcher is a compiled type.matcher.v3.StringMatcher. Matching
// does not allocate.
type stringMatcher struct {
	kind  spec.StringMatchKind
	value string
	fold  bool // ignore_case (ASCII, as Envoy); not for regexes
	re    *regexp.Regexp
}

// compileString compiles s; a regex must match the whole value, as
// Envoy's safe_regex does.
func compileString(s spec.StringMatch) (stringMatcher, error) {
	m := stringMatcher{kind: s.Kind, value: s.Value, fold: s.IgnoreCase}
	if s.Kind == spec.MatchRegex {
		re, err := regexp.Compile("^(?:" + s.Value + ")$")
		if err != nil {
			return m, fmt.Errorf("regex %q: %w", s.Value, err)
		}
		m.re = re
	}
	return m, nil
}

func (m *stringMatcher) matchBytes(v []byte) bool {
	if m.kind == spec.MatchRegex {
		return m.re.Match(v)
	}
	return literal(m, v)
}

func (m *stringMatcher) matchString(v string) bool {
	if m.kind == spec.MatchRegex {
		return m.re.MatchString(v)
	}
	return literal(m, v)
}

// literal matches v against a non-regex matcher.
func literal[T ~string | ~[]byte](m *stringMatcher, v T) bool {
	w := m.value
	switch m.kind {
	case spec.MatchPresent:
		return true
	case spec.MatchExact:
		return len(v) == len(w) && equal(v, w, m.fold)
	case spec.MatchPrefix:
		return len(v) >= len(w) && equal(v[:len(w)], w, m.fold)
	case spec.MatchSuffix:
		return len(v) >= len(w) && equal(v[len(v)-len(w):], w, m.fold)
	case spec.MatchContains:
		for i := 0; i+len(w) <= len(v); i++ {
			if equal(v[i:i+len(w)], w, m.fold) {
				return true
			}
		}
	}
	return false
}

// equal compares a and b, of the same length, byte by byte, folding ASCII
// case when fold is set.
func equal[T ~string | ~[]byte](a T, b string, fold bool) bool {
	for i := range len(b) {
		x, y := a[i], b[i]
		if fold {
			x, y = lower(x), lower(y)
		}
		if x != y {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// headerMatcher is a compiled route.v3.HeaderMatcher.
type headerMatcher struct {
	name   string // lower case; pseudo-headers address the request's fields
	m      stringMatcher
	invert bool
}

func compileHeader(h spec.HeaderMatch) (headerMatcher, error) {
	m, err := compileString(h.Match)
	return headerMatcher{name: h.Name, m: m, invert: h.Invert}, err
}

// match reports whether r's header matches; r nil (a network filter) has
// no headers, so only an inverted matcher matches.
func (h *headerMatcher) match(r *route.Request) bool {
	var v []byte
	ok := false
	if r != nil {
		v, ok = r.Header(h.name)
	}
	return (ok && h.m.matchBytes(v)) != h.invert
}
