package l7

import (
	"bytes"

	"github.com/meshlb/meshlb/sidecar/forward"
)

// errBadResponse is an upstream response that cannot be parsed.
var errBadResponse = forward.ErrMalformedResponse

// respHead is a parsed HTTP/1.x response head.
type respHead struct {
	status  int
	line    []byte // status code and reason, e.g. "200 OK"
	length  int64  // Content-Length, or -1
	chunked bool
	close   bool     // the upstream will close the connection after this response
	fields  [][]byte // header lines to forward, without CRLF
	// upgrade is the Upgrade field's value, which a 101 passes on.
	upgrade []byte
	size    int
}

func (r *respHead) reset() {
	f := r.fields[:0]
	*r = respHead{length: -1, fields: f}
}

// parseResponse parses the response head at the start of b.
func parseResponse(r *respHead, b []byte) error {
	r.reset()
	n, err := findHeadEnd(b)
	if err != nil {
		if err == errIncomplete {
			return err
		}
		return errBadResponse
	}
	r.size = n
	lines := b[:n-2]
	i := bytes.Index(lines, crlf)
	if err := r.parseStatusLine(lines[:i]); err != nil {
		return err
	}
	for lines = lines[i+2:]; len(lines) > 0; lines = lines[i+2:] {
		i = bytes.Index(lines, crlf)
		if err := r.parseField(lines[:i]); err != nil {
			return err
		}
	}
	if r.chunked && r.length >= 0 {
		r.dropLength()
	}
	return nil
}

// dropLength handles a response with both Transfer-Encoding and
// Content-Length: Transfer-Encoding overrides it, and it is removed before
// forwarding (RFC 9112 6.3; issue 7, item 4). Such a response may be a
// smuggling attempt, so its connection is not reused.
func (r *respHead) dropLength() {
	r.length = -1
	r.close = true
	kept := r.fields[:0]
	for _, f := range r.fields {
		if len(f) < 15 || f[14] != ':' || !equalFold(f[:14], "content-length") {
			kept = append(kept, f)
		}
	}
	r.fields = kept
}

func (r *respHead) parseStatusLine(line []byte) error {
	if len(line) < 12 || line[8] != ' ' || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return errBadResponse
	}
	switch line[7] {
	case '1':
	case '0':
		r.close = true
	default:
		return errBadResponse
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errBadResponse
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || (len(line) > 12 && line[12] != ' ') {
		return errBadResponse
	}
	r.status, r.line = code, line[9:]
	return nil
}

func (r *respHead) parseField(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return errBadResponse
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	if !validValue(value) || len(r.fields) == maxHeaders {
		return errBadResponse
	}
	switch {
	case equalFold(name, "content-length"):
		n, ok := parseLength(value)
		if !ok || (r.length >= 0 && r.length != n) {
			return errBadResponse
		}
		r.length = n
	case equalFold(name, "transfer-encoding"):
		if !equalFold(value, "chunked") {
			return errBadResponse
		}
		r.chunked = true
	case equalFold(name, "connection"):
		r.noteConnection(value)
		return nil
	case isHopByHop(name):
		if len(name) == len("upgrade") && equalFold(name, "upgrade") {
			r.upgrade = value
		}
		return nil
	}
	r.fields = append(r.fields, line)
	return nil
}

func (r *respHead) noteConnection(v []byte) {
	for len(v) > 0 {
		var tok []byte
		tok, v = cutComma(v)
		if equalFold(tok, "close") {
			r.close = true
		}
	}
}

// bodyless reports whether the response has no body regardless of its
// framing headers (RFC 9112 6.3); head says the request was a HEAD.
func (r *respHead) bodyless(head bool) bool {
	return r.status < 200 || r.status == 204 || r.status == 304 || head
}

// isHopByHop reports whether a header applies to one connection only and is
// never forwarded (RFC 9110 7.6.1). Connection itself is handled apart.
func isHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return equalFold(name, "te")
	case 7:
		return equalFold(name, "upgrade")
	case 10:
		return equalFold(name, "keep-alive")
	case 16:
		return equalFold(name, "proxy-connection")
	}
	return false
}
