package h2

import (
	"strings"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/route"
)

func equalFold(b []byte, lower string) bool { return ascii.EqualFoldLower(b, lower) }

// span is a field's place in the stream's arena while it is being filled
// (the arena may move as it grows).
type span struct{ from, to int }

// decodeHead fills s.req and s.peer from the x/net request: method,
// :authority, :path as sent (split at '?'), and the regular fields with
// lower-case names. x/net has already validated the pseudo-headers,
// refused connection-specific fields and joined split cookies. A Host
// field is dropped: :authority (or Host, when x/net took it for a missing
// :authority) is the request's Host.
func (s *stream) decodeHead() {
	r := s.r
	a := s.arena[:0]
	add := func(v string) span { from := len(a); a = append(a, v...); return span{from, len(a)} }
	method, host := add(r.Method), add(r.Host)
	target := r.RequestURI
	path, query, hasQuery := target, "", false
	if i := strings.IndexByte(target, '?'); i >= 0 {
		path, query, hasQuery = target[:i], target[i+1:], true
	}
	p, q := add(path), add(query)
	peer := add(peerHost(r.RemoteAddr))
	// Names and values, in pairs.
	var fields [32]span
	fs := fields[:0]
	for k, vv := range r.Header {
		if k == "Host" {
			continue
		}
		for _, v := range vv {
			from := len(a)
			a = appendLower(a, k)
			fs = append(fs, span{from, len(a)}, add(v))
		}
	}
	s.arena = a
	cut := func(sp span) []byte { return a[sp.from:sp.to:sp.to] }
	s.req.Method, s.req.Host, s.req.Path = cut(method), cut(host), cut(p)
	s.req.Query = nil
	if hasQuery {
		s.req.Query = cut(q)
	}
	s.peer = cut(peer)
	for i := 0; i < len(fs); i += 2 {
		name := cut(fs[i])
		if equalFold(name, "content-type") {
			s.grpc = isGRPC(cut(fs[i+1]))
		}
		s.req.Headers = append(s.req.Headers, route.Header{Name: name, Value: cut(fs[i+1])})
	}
}

// peerHost is the IP of a host:port address, or "" for another form.
func peerHost(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return ""
	}
	return strings.Trim(addr[:i], "[]")
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func lowerBytes(s string) []byte { return appendLower(make([]byte, 0, len(s)), s) }

// isGRPC reports whether a content-type is gRPC's: application/grpc,
// alone or followed by "+" or ";".
func isGRPC(ct []byte) bool {
	const g = "application/grpc"
	if len(ct) < len(g) || !equalFold(ct[:len(g)], g) {
		return false
	}
	return len(ct) == len(g) || ct[len(g)] == '+' || ct[len(g)] == ';'
}
