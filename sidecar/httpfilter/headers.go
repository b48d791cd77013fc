package httpfilter

import (
	"strings"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// headerValue is a spec.HeaderValue as bytes, converted once at build.
type headerValue struct {
	route.Header
	lower     string // Name in lower case
	overwrite bool
}

func headerValues(hs []spec.HeaderValue) []headerValue {
	var out []headerValue
	for _, h := range hs {
		hdr := route.Header{Name: []byte(h.Name), Value: []byte(h.Value)}
		out = append(out, headerValue{hdr, strings.ToLower(h.Name), h.Overwrite})
	}
	return out
}

// headers returns hs as plain headers, for a local reply (which has no
// other headers of those names to overwrite).
func headers(hs []spec.HeaderValue) []route.Header {
	var out []route.Header
	for _, h := range hs {
		out = append(out, route.Header{Name: []byte(h.Name), Value: []byte(h.Value)})
	}
	return out
}

// addHeaders adds hs to r's headers, replacing same-named ones for those
// that overwrite.
func addHeaders(r *route.Request, hs []headerValue) {
	for _, h := range hs {
		if h.overwrite && setHeader(r.Headers, h.lower, h.Value) {
			continue
		}
		r.Headers = append(r.Headers, h.Header)
	}
}

// setHeader replaces the value of the first header named lower (in lower
// case), and reports whether there was one. Later ones are left as they are.
func setHeader(hs []route.Header, lower string, value []byte) bool {
	for i := range hs {
		if ascii.EqualFoldLower(hs[i].Name, lower) {
			hs[i].Value = value
			return true
		}
	}
	return false
}
