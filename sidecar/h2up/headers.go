package h2up

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
)

// newRequest makes the HTTP/2 request for st's head as rt rewrites it
// (path prefix, host), without the connection-specific fields HTTP/2
// forbids, with X-Forwarded-Proto and, unless skipXFF, the client's
// address appended to X-Forwarded-For. It returns the request's
// Content-Length (0: none or invalid). The request copies what it takes
// from the head, whose slices are valid only until the body is read.
func newRequest(ctx context.Context, st forward.Stream, rt *route.Route, skipXFF bool) (*http.Request, int64) {
	r := st.Request()
	path := string(r.Path)
	if rt.Rewrite != nil {
		path = *rt.Rewrite + string(r.Path[len(rt.Prefix):])
	}
	host := rt.HostRewrite
	if host == "" {
		host = string(r.Host)
	}
	u := &url.URL{Scheme: "http", Host: host, Opaque: path, RawQuery: string(r.Query)}
	if strings.HasPrefix(path, "//") { // Opaque would read as an authority
		u.Opaque, u.Path, u.RawPath = "", path, path
	}
	h := make(http.Header, len(r.Headers)+2)
	length, xfp, xff, ua := int64(0), false, -1, false
	for _, f := range r.Headers {
		name := string(f.Name)
		switch {
		case strings.EqualFold(name, "content-length"):
			if n, err := strconv.ParseInt(string(f.Value), 10, 64); err == nil && n > 0 {
				length = n
			}
			continue
		case strings.EqualFold(name, "te"):
			if !strings.EqualFold(string(f.Value), "trailers") {
				continue
			}
		case hopByHop(name):
			continue
		case strings.EqualFold(name, "x-forwarded-proto"):
			xfp = true
		case strings.EqualFold(name, "x-forwarded-for"):
			xff = len(h[name])
		case strings.EqualFold(name, "user-agent"):
			ua = true
		}
		h[name] = append(h[name], string(f.Value))
	}
	if !xfp {
		h["x-forwarded-proto"] = []string{"http"}
	}
	if peer := st.Peer(); !skipXFF && peer != nil {
		appendXFF(h, xff, string(peer))
	}
	if !ua {
		h["User-Agent"] = nil // x/net would add its own
	}
	req := (&http.Request{Method: string(r.Method), URL: u, Host: host, Header: h,
		Proto: "HTTP/2.0", ProtoMajor: 2, Trailer: http.Header{}}).WithContext(ctx)
	return req, length
}

// appendXFF appends peer to the X-Forwarded-For field the request had
// (its last value; xff < 0: none), as the HTTP/1 codec does.
func appendXFF(h http.Header, xff int, peer string) {
	for k, vv := range h {
		if xff >= 0 && strings.EqualFold(k, "x-forwarded-for") && len(vv) > 0 {
			vv[len(vv)-1] += ", " + peer
			return
		}
	}
	h["x-forwarded-for"] = []string{peer}
}

// hopByHop reports whether name is a connection-specific field, which
// HTTP/2 forbids (RFC 9113 8.2.2), or Host (sent as :authority).
func hopByHop(name string) bool {
	for _, n := range [...]string{"connection", "keep-alive", "proxy-connection", "transfer-encoding",
		"upgrade", "host", "proxy-authenticate", "proxy-authorization"} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// appendHeaders appends h's fields to dst.
func appendHeaders(dst []route.Header, h http.Header) []route.Header {
	for k, vv := range h {
		for _, v := range vv {
			dst = append(dst, route.Header{Name: []byte(k), Value: []byte(v)})
		}
	}
	return dst
}

// responseHeaders appends resp's header fields to dst, and, for a client
// of another protocol than HTTP/2, the HTTP/1 framing the body takes:
// chunked, with its Trailer fields declared, when the response declares
// trailers (even with a known length, so they are not lost); else its
// Content-Length when known; else chunked.
func responseHeaders(dst []route.Header, resp *http.Response, h2 bool) []route.Header {
	if h2 || resp.StatusCode == 204 || resp.StatusCode == 304 || resp.Request.Method == "HEAD" {
		return appendHeaders(dst, resp.Header)
	}
	if len(resp.Trailer) > 0 {
		for k, vv := range resp.Header {
			if k == "Content-Length" {
				continue
			}
			for _, v := range vv {
				dst = append(dst, route.Header{Name: []byte(k), Value: []byte(v)})
			}
		}
		for k := range resp.Trailer {
			dst = append(dst, route.Header{Name: []byte("Trailer"), Value: []byte(k)})
		}
		return append(dst, route.Header{Name: []byte("Transfer-Encoding"), Value: []byte("chunked")})
	}
	dst = appendHeaders(dst, resp.Header)
	if _, ok := resp.Header["Content-Length"]; ok {
		return dst
	}
	if resp.ContentLength >= 0 {
		return append(dst, route.Header{Name: []byte("Content-Length"), Value: strconv.AppendInt(nil, resp.ContentLength, 10)})
	}
	return append(dst, route.Header{Name: []byte("Transfer-Encoding"), Value: []byte("chunked")})
}

// grpcStatus returns 1 + the grpc-status of a response head that carries
// one (a trailers-only gRPC response), or 0.
func grpcStatus(h http.Header) int {
	v := h["Grpc-Status"]
	if len(v) == 0 {
		return 0
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return 0
	}
	return n + 1
}
