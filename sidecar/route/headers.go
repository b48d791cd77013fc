package route

import (
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// HeaderMatchers is a compiled list of header matches, as a route's
// headers or an HTTP filter's (the fault filter's headers). Immutable.
type HeaderMatchers []headerMatcher

// CompileHeaders compiles hs.
func CompileHeaders(hs []spec.HeaderMatch) (HeaderMatchers, error) {
	var out HeaderMatchers
	for _, h := range hs {
		sm, err := compileString(h.Match)
		if err != nil {
			return nil, err
		}
		out = append(out, headerMatcher{name: strings.ToLower(h.Name), m: sm, invert: h.Invert})
	}
	return out, nil
}

// Match reports whether r matches every header match (true for none). It
// does not allocate.
func (hm HeaderMatchers) Match(r *Request) bool {
	for i := range hm {
		h := &hm[i]
		v, ok := r.Header(h.name)
		if h.m.matches(v, ok) == h.invert {
			return false
		}
	}
	return true
}
