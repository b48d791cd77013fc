package route

import (
	"fmt"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Mutations are the header mutations that apply to a route's requests
// and responses: the route's, its virtual host's and its route
// configuration's, compiled once and applied in that order, so that with
// Envoy's default (most_specific_header_mutations_wins false) the
// configuration-wide ones win. Immutable; nil applies nothing.
type Mutations struct {
	levels          []mutationLevel
	request, answer bool // some level changes requests, responses
}

// mutationLevel is one level's compiled lists.
type mutationLevel struct {
	reqAdd, respAdd       []headerAdd
	reqRemove, respRemove []string
}

// headerAdd is a compiled header to add.
type headerAdd struct {
	key       string // lower case
	name      []byte // key
	value     *format.Format
	action    spec.AppendAction
	keepEmpty bool
}

// compileMutations compiles the levels, most specific first; nil when
// none changes anything.
func compileMutations(levels ...*spec.HeaderMutations) (*Mutations, error) {
	m := &Mutations{}
	for _, l := range levels {
		if l == nil || l.Empty() {
			continue
		}
		cl, err := compileLevel(l)
		if err != nil {
			return nil, err
		}
		m.request = m.request || len(l.RequestAdd)+len(l.RequestRemove) > 0
		m.answer = m.answer || len(l.ResponseAdd)+len(l.ResponseRemove) > 0
		m.levels = append(m.levels, cl)
	}
	if len(m.levels) == 0 {
		return nil, nil
	}
	return m, nil
}

func compileLevel(l *spec.HeaderMutations) (mutationLevel, error) {
	var out mutationLevel
	var err error
	if out.reqAdd, err = compileAdds(l.RequestAdd); err != nil {
		return out, fmt.Errorf("request_headers_to_add: %w", err)
	}
	if out.respAdd, err = compileAdds(l.ResponseAdd); err != nil {
		return out, fmt.Errorf("response_headers_to_add: %w", err)
	}
	out.reqRemove, out.respRemove = l.RequestRemove, l.ResponseRemove
	return out, nil
}

func compileAdds(adds []spec.HeaderAdd) ([]headerAdd, error) {
	var out []headerAdd
	for _, a := range adds {
		f, err := format.Parse(a.Value, false)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", a.Name, err)
		}
		out = append(out, headerAdd{key: a.Name, name: []byte(a.Name), value: f, action: a.Action, keepEmpty: a.KeepEmpty})
	}
	return out, nil
}

// Requests reports whether m changes requests; nil changes nothing.
func (m *Mutations) Requests() bool { return m != nil && m.request }

// Responses reports whether m changes responses; nil changes nothing.
func (m *Mutations) Responses() bool { return m != nil && m.answer }

// Scratch holds the values a mutation formats, for one stream; it is
// reused from one request to the next, so mutating allocates only while
// its buffers grow. It must not be copied after first use.
type Scratch struct {
	buf  []byte
	vals [][]byte
}

// Reset forgets the values of the previous request. The headers that
// pointed into them must no longer be in use.
func (s *Scratch) Reset() { s.buf = s.buf[:0] }

// Bytes returns a copy of p in the scratch buffer, valid until Reset.
func (s *Scratch) Bytes(p []byte) []byte {
	n := len(s.buf)
	s.buf = append(s.buf, p...)
	return s.buf[n:len(s.buf):len(s.buf)]
}

// Request applies m's request mutations to r, reading substitutions from
// c (whose Request should be r), with values held in s.
func (m *Mutations) Request(r *Request, c *format.Context, s *Scratch) {
	for i := range m.levels {
		l := &m.levels[i]
		r.Headers = apply(r.Headers, l.reqRemove, l.reqAdd, c, s)
	}
}

// Response applies m's response mutations to hs and returns it; c's
// Response should be hs.
func (m *Mutations) Response(hs *HeaderList, c *format.Context, s *Scratch) {
	for i := range m.levels {
		l := &m.levels[i]
		*hs = apply(*hs, l.respRemove, l.respAdd, c, s)
	}
}

// apply runs one level as Envoy's HeaderParser does: remove, then format
// every value (seeing the headers as the removals left them), then
// overwrite, then add.
func apply(hs []Header, remove []string, adds []headerAdd, c *format.Context, s *Scratch) []Header {
	for _, name := range remove {
		hs = RemoveHeader(hs, name)
	}
	if len(adds) == 0 {
		return hs
	}
	s.vals = s.vals[:0]
	for i := range adds {
		a := &adds[i]
		n := len(s.buf)
		s.buf = a.value.Append(s.buf, c)
		v := s.buf[n:len(s.buf):len(s.buf)]
		if len(v) == 0 && !a.keepEmpty || !a.applies(hs) {
			v = nil
		} else if v == nil {
			v = emptyValue
		}
		s.vals = append(s.vals, v)
	}
	for i := range adds {
		if v := s.vals[i]; v != nil && adds[i].action != spec.AppendIfExistsOrAdd && adds[i].action != spec.AddIfAbsent {
			hs = append(RemoveHeader(hs, adds[i].key), Header{Name: adds[i].name, Value: v})
		}
	}
	for i := range adds {
		if v := s.vals[i]; v != nil && (adds[i].action == spec.AppendIfExistsOrAdd || adds[i].action == spec.AddIfAbsent) {
			hs = append(hs, Header{Name: adds[i].name, Value: v})
		}
	}
	return hs
}

// applies reports whether a's action lets it change hs.
func (a *headerAdd) applies(hs []Header) bool {
	switch a.action {
	case spec.AddIfAbsent:
		return !hasHeader(hs, a.key)
	case spec.OverwriteIfExists:
		return hasHeader(hs, a.key)
	}
	return true
}

func hasHeader(hs []Header, name string) bool {
	for i := range hs {
		if ascii.EqualFoldLower(hs[i].Name, name) {
			return true
		}
	}
	return false
}

// RemoveHeader removes every header named name (lower case) from hs, in
// place, and returns the shortened list.
func RemoveHeader(hs []Header, name string) []Header {
	if !hasHeader(hs, name) {
		return hs
	}
	out := hs[:0]
	for _, h := range hs {
		if !ascii.EqualFoldLower(h.Name, name) {
			out = append(out, h)
		}
	}
	clear(hs[len(out):])
	return out
}

// emptyValue is the value of a header kept with an empty value.
var emptyValue = []byte{}

// HeaderList is a list of header fields (a response head's) that formats
// read %RESP(x)% from.
type HeaderList []Header

// Header returns the value of the first field named name (lower case).
func (l *HeaderList) Header(name string) ([]byte, bool) {
	for i := range *l {
		if ascii.EqualFoldLower((*l)[i].Name, name) {
			return (*l)[i].Value, true
		}
	}
	return nil, false
}

// PathQuery returns the request's path and query, for %REQ(:PATH)%.
func (r *Request) PathQuery() (path, query []byte) { return r.Path, r.Query }
