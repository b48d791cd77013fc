package forward

import (
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Location is the location a redirect sends request h to: the redirect's
// scheme (default http), host and path, each defaulting to the request's,
// and the request's query unless the redirect strips it.
func Location(rd *spec.Redirect, h *route.Request) string {
	scheme, host, path := rd.Scheme, rd.Host, rd.Path
	if scheme == "" {
		scheme = "http"
	}
	if host == "" {
		host = string(h.Host)
	}
	if path == "" {
		path = string(h.Path)
	}
	loc := scheme + "://" + host + path
	if !rd.StripQuery && h.Query != nil {
		loc += "?" + string(h.Query)
	}
	return loc
}
