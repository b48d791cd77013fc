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

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
