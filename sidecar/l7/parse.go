package l7

import (
	"bytes"
	"errors"

	"github.com/meshlb/meshlb/sidecar/route"
)

// maxHeaders bounds the header lines of one head.
const maxHeaders = 100

// errIncomplete means the buffer does not yet hold a whole head.
var errIncomplete = errors.New("incomplete head")

// statusError is a request the proxy answers itself.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(msg string) error { return &statusError{400, msg} }

// reqHead is a parsed HTTP/1.x request head. Its slices point into the
// connection's read buffer.
type reqHead struct {
	route.Request
	http11  bool
	isHead  bool  // the method is HEAD
	length  int64 // Content-Length, or -1
	chunked bool
	close   bool // the client wants the connection closed after this request
	upgrade []byte
	// h2cIgnored: the request asked for Upgrade: h2c, which is not
	// honoured ([reqHead.finish]); its HTTP2-Settings field is dropped.
	h2cIgnored bool
	expect     bool // Expect: 100-continue
	hasXFP     bool
	xfpHop     bool // Connection names X-Forwarded-Proto: the client's is dropped
	// hostHeader is set once a Host header has been seen.
	hostHeader bool
	connOpts   [][]byte // extra hop-by-hop header names from Connection
	size       int      // bytes of the head, final CRLF included
	// consumed is set once the head has been discarded from the read
	// buffer. Its slices stay valid until the reader fills again, which
	// only a body read does: a bodyless request can be sent again.
	consumed bool
	// bodyRead: the body is being read through ReadBody.
	bodyRead bool
}

// consume discards the head from rd, once.
func (h *reqHead) consume(rd *reader) {
	if !h.consumed {
		rd.discard(h.size)
		h.consumed = true
	}
}

func (h *reqHead) reset() {
	hdrs := h.Headers[:0]
	opts := h.connOpts[:0]
	*h = reqHead{length: -1}
	h.Headers, h.connOpts = hdrs, opts
}

// findHeadEnd returns the length of the head in b (through the empty line),
// errIncomplete if b holds no complete head, or an error for a head that
// uses bare LF line ends.
func findHeadEnd(b []byte) (int, error) {
	if i := bytes.Index(b, crlfcrlf); i >= 0 {
		return i + 4, nil
	}
	// With no CRLFCRLF in b, "\n\r\n" or "\n\n" can only come from a bare LF.
	if bytes.Contains(b, lflf) || bytes.Contains(b, lfcrlf) {
		return 0, badRequest("bare LF line terminator")
	}
	return 0, errIncomplete
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	lflf     = []byte("\n\n")
	lfcrlf   = []byte("\n\r\n")
)

// parseRequest parses the head at the start of b into h. It returns
// errIncomplete when more bytes are needed and a *statusError for a
// malformed head.
func parseRequest(h *reqHead, b []byte) error {
	h.reset()
	n, err := findHeadEnd(b)
	if err != nil {
		return err
	}
	h.size = n
	lines := b[:n-2] // drop the final CRLF; each line ends in CRLF
	i := bytes.Index(lines, crlf)
	if err := h.parseRequestLine(lines[:i]); err != nil {
		return err
	}
	lines = lines[i+2:]
	for len(lines) > 0 {
		i = bytes.Index(lines, crlf)
		if err := h.parseHeader(lines[:i]); err != nil {
			return err
		}
		lines = lines[i+2:]
	}
	return h.finish()
}

func (h *reqHead) parseRequestLine(line []byte) error {
	if bytes.IndexByte(line, '\n') >= 0 {
		return badRequest("bare LF line terminator")
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !isToken(line[:sp1]) {
		return badRequest("malformed request line")
	}
	h.Method = line[:sp1]
	h.isHead = string(h.Method) == "HEAD"
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	target, proto := rest[:sp2], rest[sp2+1:]
	switch string(proto) {
	case "HTTP/1.1":
		h.http11 = true
	case "HTTP/1.0":
		h.close = true
	default:
		return &statusError{505, "unsupported protocol version"}
	}
	return h.parseTarget(target)
}

func (h *reqHead) parseHeader(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return badRequest("malformed header line")
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	if !validValue(value) {
		return badRequest("invalid character in header value")
	}
	if len(h.Headers) == maxHeaders {
		return &statusError{431, "too many headers"}
	}
	h.Headers = append(h.Headers, route.Header{Name: name, Value: value})
	return h.noteHeader(name, value)
}

// noteHeader records the headers that affect framing and forwarding.
func (h *reqHead) noteHeader(name, value []byte) error {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return h.noteHost(value)
		}
	case 14:
		if equalFold(name, "content-length") {
			return h.noteLength(value)
		}
	case 17:
		if equalFold(name, "x-forwarded-proto") {
			h.hasXFP = true
		} else if equalFold(name, "transfer-encoding") {
			if !equalFold(value, "chunked") || h.chunked {
				return &statusError{501, "unsupported transfer-encoding"}
			}
			h.chunked = true
		}
	case 10:
		if equalFold(name, "connection") {
			return h.noteConnection(value)
		}
	case 7:
		if equalFold(name, "upgrade") {
			h.upgrade = value
		}
	case 6:
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			h.expect = true
		}
	}
	return nil
}

// noteHost records a Host header. An absolute-form target's authority
// takes precedence over it (RFC 9112 3.2.2); two Host headers are an error.
func (h *reqHead) noteHost(v []byte) error {
	if h.hostHeader {
		return badRequest("more than one Host header")
	}
	h.hostHeader = true
	if h.Host == nil {
		h.Host = v
	}
	return nil
}

func (h *reqHead) noteLength(v []byte) error {
	n, ok := parseLength(v)
	if !ok {
		return badRequest("invalid Content-Length")
	}
	if h.length >= 0 && h.length != n {
		return badRequest("conflicting Content-Length headers")
	}
	h.length = n
	return nil
}

// noteConnection records the options of a Connection header. The headers
// it names are hop-by-hop and not forwarded, except Host, which is always
// forwarded, and the framing headers: a request that names Content-Length
// or Transfer-Encoding is rejected, since dropping them would leave its
// body to be read by the upstream as the next request (issue 7, item 1).
func (h *reqHead) noteConnection(v []byte) error {
	for len(v) > 0 {
		var tok []byte
		tok, v = cutComma(v)
		switch {
		case equalFold(tok, "close"):
			h.close = true
		case equalFold(tok, "keep-alive"):
			if !h.http11 {
				h.close = false
			}
		case equalFold(tok, "upgrade"), equalFold(tok, "host"):
		case equalFold(tok, "content-length"), equalFold(tok, "transfer-encoding"):
			return badRequest("Connection header names a framing header")
		case equalFold(tok, "x-forwarded-proto"):
			// Dropped as hop-by-hop, so the proxy sets its own.
			h.xfpHop = true
			h.connOpts = append(h.connOpts, tok)
		case len(tok) > 0:
			h.connOpts = append(h.connOpts, tok)
		}
	}
	return nil
}

// finish checks the head as a whole (RFC 9112 6.3, request smuggling).
func (h *reqHead) finish() error {
	if h.chunked && h.length >= 0 {
		return badRequest("both Transfer-Encoding and Content-Length")
	}
	if h.chunked && !h.http11 {
		return badRequest("Transfer-Encoding in an HTTP/1.0 request")
	}
	if h.Host == nil && h.http11 {
		return badRequest("missing Host header")
	}
	if h.xfpHop {
		h.hasXFP = false
	}
	if h.upgrade != nil && !h.http11 {
		h.upgrade = nil
	}
	h.ignoreH2CUpgrade()
	return nil
}

// ignoreH2CUpgrade serves a request that asks to upgrade to h2c (RFC 7540
// 3.2) as the plain HTTP/1.1 request it also is, as Envoy does
// (source/common/http/http1/codec_impl.cc, "removing unsupported h2c
// upgrade headers", envoyproxy/envoy#7161): the Upgrade field goes, and
// so do the HTTP2-Settings field and the Connection tokens naming them
// (Connection is never forwarded). An h2c client wanting HTTP/2 uses
// prior knowledge instead, which codec_type AUTO and HTTP2 serve.
func (h *reqHead) ignoreH2CUpgrade() {
	if h.upgrade != nil && equalFold(h.upgrade, "h2c") {
		h.upgrade, h.h2cIgnored = nil, true
	}
}
