package l7

import "bytes"

// parseTarget accepts origin-form ("/path?q") and absolute-form
// ("http://host/path") targets, and "*" for OPTIONS.
func (h *reqHead) parseTarget(t []byte) error {
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return badRequest("invalid character in request target")
		}
	}
	if bytes.HasPrefix(t, []byte("http://")) || bytes.HasPrefix(t, []byte("https://")) {
		var err error
		if t, err = h.parseAuthority(t[bytes.IndexByte(t, ':')+3:]); err != nil {
			return err
		}
	}
	if len(t) == 0 || t[0] != '/' && !(len(t) == 1 && t[0] == '*') {
		return badRequest("malformed request target")
	}
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		h.Path, h.Query = t[:q], t[q+1:]
	} else {
		h.Path = t
	}
	return nil
}

// parseAuthority takes the authority of an absolute-form target as the
// request's Host and returns the rest of the target. An empty authority
// and userinfo ("user@host", deprecated by RFC 9110 4.2.4 and a way to
// disguise a host) are errors (issue 7, item 8).
func (h *reqHead) parseAuthority(t []byte) ([]byte, error) {
	end := bytes.IndexAny(t, "/?#")
	if end < 0 {
		end = len(t)
	}
	host := t[:end]
	switch {
	case len(host) == 0:
		return nil, badRequest("empty authority in request target")
	case bytes.IndexByte(host, '@') >= 0:
		return nil, badRequest("userinfo in request target")
	}
	h.Host, t = host, t[end:]
	if len(t) == 0 || t[0] != '/' {
		return append(rootPath[:len(rootPath):len(rootPath)], t...), nil
	}
	return t, nil
}

// rootPath is the path of an absolute-form target with none.
var rootPath = []byte("/")

// admitHTTP10 applies a listener's HTTP/1.0 policy to an HTTP/1.0
// request, as Envoy's http_protocol_options do: 426 unless accepted, and a
// request without Host takes defaultHost, or gets 400 without one (issue
// 7, item 8). It must run after parseRequest, on HTTP/1.0 requests only.
func (h *reqHead) admitHTTP10(accept bool, defaultHost []byte) error {
	if !accept {
		return &statusError{426, "HTTP/1.0 is not accepted"}
	}
	if h.Host == nil {
		if len(defaultHost) == 0 {
			return badRequest("missing Host header")
		}
		h.Host = defaultHost
	}
	return nil
}
