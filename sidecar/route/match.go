package route

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Match returns the first route of the request's virtual host that
// matches, or nil. It does not allocate.
func (t *Table) Match(r *Request) *Route {
	vh, _ := t.virtualHost(r.Host)
	if vh == nil {
		return nil
	}
	for _, rt := range vh.routes {
		if rt.match.matches(r) {
			return rt
		}
	}
	return nil
}

// virtualHost finds the virtual host for host: exact, then longest
// suffix wildcard, then longest prefix wildcard, then "*". A host with a
// port is tried as is, then without the port. It also says how it found
// it, for [Table.Trace].
func (t *Table) virtualHost(host []byte) (*vhost, hostMatch) {
	var buf [256]byte
	if len(host) > len(buf) {
		return t.any, hostMatch{kind: hostAny, pattern: "*"}
	}
	h := lower(buf[:len(host)], host)
	if vh, hm := t.lookup(h); vh != nil {
		return vh, hm
	}
	if i := bytes.LastIndexByte(h, ':'); i > 0 && bytes.IndexByte(h[i:], ']') < 0 {
		if vh, hm := t.lookup(h[:i]); vh != nil {
			hm.portless = true
			return vh, hm
		}
	}
	return t.any, hostMatch{kind: hostAny, pattern: "*"}
}

func (t *Table) lookup(h []byte) (*vhost, hostMatch) {
	if vh, ok := t.exact[string(h)]; ok {
		return vh, hostMatch{kind: hostExact}
	}
	for _, p := range t.suffixes {
		if len(h) > len(p.pattern) && string(h[len(h)-len(p.pattern):]) == p.pattern {
			return p.vh, hostMatch{kind: hostSuffix, pattern: p.pattern}
		}
	}
	for _, p := range t.prefixes {
		if len(h) > len(p.pattern) && string(h[:len(p.pattern)]) == p.pattern {
			return p.vh, hostMatch{kind: hostPrefix, pattern: p.pattern}
		}
	}
	return nil, hostMatch{}
}

func lower(dst, src []byte) []byte {
	for i, c := range src {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return dst
}

// matcher is a compiled spec.RouteMatch.
type matcher struct {
	kind    spec.PathMatch
	path    string
	fold    bool // case-insensitive path
	re      *regexp.Regexp
	headers []headerMatcher
	query   []queryMatcher
	grpc    bool
}

type stringMatcher struct {
	kind  spec.StringMatchKind
	value string
	fold  bool
	re    *regexp.Regexp
}

type headerMatcher struct {
	name   string
	m      stringMatcher
	invert bool
}

type queryMatcher struct {
	name string
	m    stringMatcher
}

func compileMatch(cm *spec.RouteMatch) (matcher, error) {
	m := matcher{kind: cm.Kind, path: cm.Path, fold: !cm.CaseSensitive, grpc: cm.GRPC}
	if m.kind == spec.PathRegex {
		re, err := compileRegex(cm.Path)
		if err != nil {
			return m, err
		}
		m.re = re
	}
	for _, h := range cm.Headers {
		sm, err := compileString(h.Match)
		if err != nil {
			return m, err
		}
		m.headers = append(m.headers, headerMatcher{name: strings.ToLower(h.Name), m: sm, invert: h.Invert})
	}
	for _, q := range cm.Query {
		sm, err := compileString(q.Match)
		if err != nil {
			return m, err
		}
		m.query = append(m.query, queryMatcher{name: q.Name, m: sm})
	}
	return m, nil
}

func compileString(s spec.StringMatch) (stringMatcher, error) {
	sm := stringMatcher{kind: s.Kind, value: s.Value, fold: s.IgnoreCase}
	if s.Kind == spec.MatchRegex {
		re, err := compileRegex(s.Value)
		if err != nil {
			return sm, err
		}
		sm.re = re
	}
	return sm, nil
}

func (m *matcher) matches(r *Request) bool { return m.check(r).kind == critNone }

// check returns the first criterion of m that r fails, in the order path,
// headers, query parameters, grpc; kind critNone when r matches.
func (m *matcher) check(r *Request) criterion {
	if !m.matchPath(r.Path) {
		return criterion{kind: critPath}
	}
	for i := range m.headers {
		h := &m.headers[i]
		v, ok := r.Header(h.name)
		if h.m.matches(v, ok) == h.invert {
			return criterion{kind: critHeader, i: i}
		}
	}
	for i := range m.query {
		q := &m.query[i]
		v, ok := r.QueryParam(q.name)
		if !q.m.matches(v, ok) {
			return criterion{kind: critQuery, i: i}
		}
	}
	if m.grpc {
		if ct, _ := r.Header("content-type"); !bytes.HasPrefix(ct, []byte("application/grpc")) {
			return criterion{kind: critGRPC}
		}
	}
	return criterion{}
}

func (m *matcher) matchPath(p []byte) bool {
	switch m.kind {
	case spec.PathPrefix:
		return hasPrefix(p, m.path, m.fold)
	case spec.PathExact:
		return len(p) == len(m.path) && hasPrefix(p, m.path, m.fold)
	case spec.PathSeparatedPrefix:
		return hasPrefix(p, m.path, m.fold) && (len(p) == len(m.path) || p[len(m.path)] == '/')
	case spec.PathRegex:
		return m.re.Match(p)
	}
	return false
}

func hasPrefix(b []byte, prefix string, fold bool) bool {
	if len(b) < len(prefix) {
		return false
	}
	if !fold {
		return string(b[:len(prefix)]) == prefix
	}
	return strings.EqualFold(string(b[:len(prefix)]), prefix)
}

func (s *stringMatcher) matches(v []byte, present bool) bool {
	if !present {
		return false
	}
	switch s.kind {
	case spec.MatchPresent:
		return true
	case spec.MatchExact:
		return len(v) == len(s.value) && hasPrefix(v, s.value, s.fold)
	case spec.MatchPrefix:
		return hasPrefix(v, s.value, s.fold)
	case spec.MatchSuffix:
		return len(v) >= len(s.value) && hasPrefix(v[len(v)-len(s.value):], s.value, s.fold)
	case spec.MatchContains:
		if s.fold {
			return strings.Contains(strings.ToLower(string(v)), strings.ToLower(s.value))
		}
		return bytes.Contains(v, []byte(s.value))
	case spec.MatchRegex:
		return s.re.Match(v)
	}
	return false
}
