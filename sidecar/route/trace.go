package route

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// hostMatch says how [Table.virtualHost] found a virtual host. It is a
// small value so that Match pays nothing for it.
type hostMatch struct {
	kind     uint8
	pattern  string // the suffix or prefix of a wildcard domain
	portless bool   // found for the host without its port
}

const (
	hostNone = iota
	hostExact
	hostSuffix
	hostPrefix
	hostAny
)

// criterion is the first part of a route's match a request failed
// ([matcher.check]): its kind and, for headers and query parameters, its
// index.
type criterion struct {
	kind uint8
	i    int
}

const (
	critNone = iota
	critPath
	critHeader
	critQuery
	critGRPC
)

// HostTrace is how a table chose a request's virtual host.
type HostTrace struct {
	// Host is the authority the request carries.
	Host string `json:"host"`
	// Name is the virtual host's name; "" when none matched.
	Name string `json:"name"`
	// Domain is the domain that matched: the host, "*.suffix", "prefix*"
	// or "*".
	Domain string `json:"domain,omitempty"`
	// How is what kind of match it was, and whether the port was dropped.
	How string `json:"how"`
}

// RouteTrace is one route of the virtual host as the match tried it.
type RouteTrace struct {
	Index int    `json:"index"`
	Name  string `json:"name,omitempty"`
	// Match renders the route's criteria.
	Match   string `json:"match"`
	Matched bool   `json:"matched"`
	// Failed is the first criterion the request failed and what the
	// request had there; "" when it matched.
	Failed string `json:"failed,omitempty"`
	// Route is the compiled route.
	Route *Route `json:"-"`
}

// Trace finds r's virtual host and tries its routes as [Table.Match]
// does, with the same code, recording each route tried up to the first
// that matches. It allocates, and is meant for explaining a decision
// (meshlb explain), not for serving requests.
func (t *Table) Trace(r *Request) (HostTrace, []RouteTrace) {
	vh, hm := t.virtualHost(r.Host)
	ht := HostTrace{Host: string(r.Host)}
	if vh == nil {
		ht.How = "no virtual host has a matching domain, and none has \"*\""
		return ht, nil
	}
	ht.Name = vh.name
	ht.Domain, ht.How = hm.describe(r.Host)
	var out []RouteTrace
	for _, rt := range vh.routes {
		c := rt.match.check(r)
		tr := RouteTrace{Index: rt.Index, Name: rt.Name, Match: rt.match.describe(), Matched: c.kind == critNone, Route: rt}
		if !tr.Matched {
			tr.Failed = rt.match.failure(c, r)
		}
		out = append(out, tr)
		if tr.Matched {
			break
		}
	}
	return ht, out
}

func (hm hostMatch) describe(host []byte) (domain, how string) {
	h := strings.ToLower(string(host))
	if hm.portless {
		h = h[:strings.LastIndexByte(h, ':')]
	}
	switch hm.kind {
	case hostExact:
		domain, how = h, "exact"
	case hostSuffix:
		domain, how = "*"+hm.pattern, "suffix wildcard (longest first)"
	case hostPrefix:
		domain, how = hm.pattern+"*", "prefix wildcard (longest first)"
	default:
		return "*", "catch-all \"*\": no exact or wildcard domain matched"
	}
	if hm.portless {
		how += ", for the host without its port"
	}
	return domain, how
}

// describe renders m's criteria as Envoy's RouteMatch fields.
func (m *matcher) describe() string {
	parts := []string{m.describePath()}
	for i := range m.headers {
		parts = append(parts, m.headers[i].describe())
	}
	for i := range m.query {
		q := &m.query[i]
		parts = append(parts, "query_parameter "+q.name+" "+q.m.describe())
	}
	if m.grpc {
		parts = append(parts, "grpc")
	}
	return strings.Join(parts, ", ")
}

var pathKinds = map[spec.PathMatch]string{
	spec.PathPrefix: "prefix", spec.PathExact: "path", spec.PathRegex: "safe_regex",
	spec.PathSeparatedPrefix: "path_separated_prefix",
}

func (m *matcher) describePath() string {
	s := pathKinds[m.kind] + " " + strconv.Quote(m.path)
	if m.fold && m.kind != spec.PathRegex {
		s += " (case-insensitive)"
	}
	return s
}

func (h *headerMatcher) describe() string {
	s := "header " + h.name + " "
	if h.invert {
		s += "not "
	}
	return s + h.m.describe()
}

var stringKinds = map[spec.StringMatchKind]string{
	spec.MatchExact: "exact", spec.MatchPrefix: "prefix", spec.MatchSuffix: "suffix",
	spec.MatchContains: "contains", spec.MatchRegex: "safe_regex", spec.MatchPresent: "present",
}

func (s *stringMatcher) describe() string {
	if s.kind == spec.MatchPresent {
		return "present"
	}
	out := stringKinds[s.kind] + " " + strconv.Quote(s.value)
	if s.fold {
		out += " (ignore_case)"
	}
	return out
}

// failure renders the criterion c of m that r failed, with r's value.
func (m *matcher) failure(c criterion, r *Request) string {
	switch c.kind {
	case critPath:
		return fmt.Sprintf("%s: path is %q", m.describePath(), r.Path)
	case critHeader:
		h := &m.headers[c.i]
		v, ok := r.Header(h.name)
		return h.describe() + ": request has " + valueOrAbsent(v, ok)
	case critQuery:
		q := &m.query[c.i]
		v, ok := r.QueryParam(q.name)
		return "query_parameter " + q.name + " " + q.m.describe() + ": request has " + valueOrAbsent(v, ok)
	}
	v, ok := r.Header("content-type")
	return "grpc: content-type is " + valueOrAbsent(v, ok)
}

func valueOrAbsent(v []byte, ok bool) string {
	if !ok {
		return "none"
	}
	return strconv.Quote(string(v))
}

// HashStep is one hash policy of a route as [Route.HashTrace] applied it.
type HashStep struct {
	// Policy renders the policy: header <name>, source_ip or
	// query_parameter <name>, and whether it is terminal.
	Policy string `json:"policy"`
	// Value is what the policy hashed; "" when it found nothing.
	Value string `json:"value,omitempty"`
	Found bool   `json:"found"`
}

// HashTrace returns the request's hash as [Route.Hash] makes it, with the
// same code, and what each policy found.
func (r *Route) HashTrace(req *Request, peer []byte) (uint64, []HashStep) {
	steps := make([]HashStep, len(r.HashPolicy))
	for i := range r.HashPolicy {
		steps[i].Policy = describeHashPolicy(&r.HashPolicy[i])
	}
	n := 0
	h := r.hash(req, peer, nil, func(i int, v []byte, ok bool) {
		steps[i].Found, steps[i].Value = ok, string(v)
		n = i + 1
	})
	return h, steps[:n]
}

func describeHashPolicy(p *spec.HashPolicy) string {
	var s string
	switch p.Kind {
	case spec.HashHeader:
		s = "header " + p.Name
	case spec.HashSourceIP:
		s = "source_ip"
	case spec.HashQuery:
		s = "query_parameter " + p.Name
	case spec.HashCookie:
		s = "cookie " + p.Name
	case spec.HashFilterState:
		s = "filter_state " + p.Name
	}
	if p.Terminal {
		s += " (terminal)"
	}
	return s
}

// Weights returns the weight of each of r's targets, in order: the
// weighted_clusters split that [Route.Pick] draws from.
func (r *Route) Weights() []uint32 { return r.split.Weights() }
