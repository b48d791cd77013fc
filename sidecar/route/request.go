// Package route matches requests to routes. A [Table] is compiled once per
// configuration snapshot from a config.RouteConfig and is immutable; Match
// does no allocation, locking or I/O.
package route

import "github.com/meshlb/meshlb/internal/ascii"

// Header is one request header. Name keeps the case it arrived in; matching
// is case-insensitive.
type Header struct {
	Name, Value []byte
}

// Request is the protocol-neutral head of a request that routing looks at.
// Codecs (HTTP/1, HTTP/2) fill it; its byte slices point into the codec's
// buffers and are valid only until the codec reads again.
type Request struct {
	Method []byte
	// Host is the authority (Host header or :authority), as received.
	Host []byte
	// Path is the request target's path, without the query.
	Path []byte
	// Query is the part after '?', without it; nil when absent.
	Query   []byte
	Headers []Header
}

// Header returns the value of the first header named name (lower case),
// and whether it exists. Pseudo-headers :method, :authority and :path
// address the request's fields.
func (r *Request) Header(name string) ([]byte, bool) {
	switch name {
	case ":method":
		return r.Method, true
	case ":authority", "host":
		return r.Host, r.Host != nil
	case ":path":
		return r.Path, true
	}
	for i := range r.Headers {
		if ascii.EqualFoldLower(r.Headers[i].Name, name) {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// QueryParam returns the first value of the query parameter name, not
// percent-decoded, and whether it is present.
func (r *Request) QueryParam(name string) ([]byte, bool) {
	q := r.Query
	for len(q) > 0 {
		var pair []byte
		pair, q = cut(q, '&')
		k, v := cut(pair, '=')
		if string(k) == name {
			return v, true
		}
	}
	return nil, false
}

// Cookie returns the value of the first cookie named name in the
// request's cookie headers, without enclosing double quotes, as Envoy's
// parseCookieValue: false when there is none or its value is empty.
func (r *Request) Cookie(name string) ([]byte, bool) {
	for i := range r.Headers {
		if !ascii.EqualFoldLower(r.Headers[i].Name, "cookie") {
			continue
		}
		for c := r.Headers[i].Value; len(c) > 0; {
			var pair []byte
			pair, c = cut(c, ';')
			k, v := cut(trimSpaces(pair), '=')
			if string(k) != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, len(v) > 0
		}
	}
	return nil, false
}

// trimSpaces drops the spaces and tabs around b.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
