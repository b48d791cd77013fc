package l7

import (
	"strconv"

	"github.com/meshlb/meshlb/sidecar/route"
)

// writeRequestHead writes the request head for the upstream: the path
// rewritten by the route, hop-by-hop headers removed, X-Forwarded-For
// appended and X-Forwarded-Proto set (as HAProxy's "option forwardfor" and
// Envoy do).
// With skipXFF (Envoy's use_remote_address false) an incoming
// X-Forwarded-For is passed on unchanged and the peer is not appended.
func (s *session) writeRequestHead(w *writer, rt *route.Route, skipXFF bool) {
	h := &s.head
	w.write(h.Method)
	w.writeString(" ")
	if rt.Rewrite != nil {
		w.writeString(*rt.Rewrite)
		w.write(h.Path[len(rt.Prefix):])
	} else {
		w.write(h.Path)
	}
	if h.Query != nil {
		w.writeString("?")
		w.write(h.Query)
	}
	if h.http11 {
		w.writeString(" HTTP/1.1\r\nHost: ")
	} else {
		w.writeString(" HTTP/1.0\r\nHost: ")
	}
	if rt.HostRewrite != "" {
		w.writeString(rt.HostRewrite)
	} else {
		w.write(h.Host)
	}
	w.writeString("\r\n")
	var xff []byte
	for i := range h.Headers {
		f := &h.Headers[i]
		if equalFold(f.Name, "x-forwarded-for") {
			xff = f.Value // HAProxy and Envoy keep the last; multiple are rare
			continue
		}
		if s.dropRequestHeader(f.Name) {
			continue
		}
		w.write(f.Name)
		w.writeString(": ")
		w.write(f.Value)
		w.writeString("\r\n")
	}
	s.writeForwarded(w, xff, skipXFF)
	if h.upgrade != nil {
		w.writeString("Connection: upgrade\r\nUpgrade: ")
		w.write(h.upgrade)
		w.writeString("\r\n")
	}
	w.writeString("\r\n")
}

func (s *session) writeForwarded(w *writer, xff []byte, skipXFF bool) {
	switch {
	case !skipXFF:
		w.writeString("X-Forwarded-For: ")
		if len(xff) > 0 {
			w.write(xff)
			w.writeString(", ")
		}
		w.write(s.peer)
		w.writeString("\r\n")
	case len(xff) > 0:
		w.writeString("X-Forwarded-For: ")
		w.write(xff)
		w.writeString("\r\n")
	}
	if !s.head.hasXFP {
		w.writeString("X-Forwarded-Proto: http\r\n")
	}
}

// dropRequestHeader reports whether a request header is not forwarded:
// Host (written first), hop-by-hop headers, Expect when the proxy answers
// it, and headers the Connection header names.
func (s *session) dropRequestHeader(name []byte) bool {
	switch len(name) {
	case 4:
		return equalFold(name, "host")
	case 6:
		return s.head.expect && equalFold(name, "expect")
	case 10:
		if equalFold(name, "connection") {
			return true
		}
	case 14:
		if s.head.h2cIgnored && equalFold(name, "http2-settings") {
			return true
		}
	}
	if isHopByHop(name) {
		return true
	}
	for _, opt := range s.head.connOpts {
		if len(opt) == len(name) && equalFoldBoth(opt, name) {
			return true
		}
	}
	return false
}

// writeResponseHead writes the final response head r to the client buffer,
// asking the client to close when closing is true.
func (s *session) writeResponseHead(r *respHead, closing bool) {
	w := &s.out
	s.fs.Info.Code = r.status
	w.writeString("HTTP/1.1 ")
	w.write(r.line)
	w.writeString("\r\n")
	for _, f := range r.fields {
		w.write(f)
		w.writeString("\r\n")
	}
	if r.status == 101 && r.upgrade != nil {
		// The switch's own hop-by-hop fields (RFC 9110 15.2.2): a
		// WebSocket client checks them (RFC 6455 4.1).
		w.writeString("Connection: Upgrade\r\nUpgrade: ")
		w.write(r.upgrade)
		w.writeString("\r\n")
	} else if closing || s.ctx.Err() != nil { // a draining listener closes after this response
		w.writeString("Connection: close\r\n")
	}
	w.writeString("\r\n")
}

// respond writes a complete local response and reports whether the
// connection may be reused: not when the request's body was never read,
// nor when the client asked to close.
func (s *session) respond(code int, body string, extra []string) bool {
	h := &s.head
	keep := !h.close && h.length <= 0 && !h.chunked && s.ctx.Err() == nil
	if keep {
		h.consume(&s.rd)
	} else if h.length > 0 || h.chunked {
		s.linger = true // the body may be unread
	}
	s.fs.Info.Code = code
	w := &s.out
	w.writeString("HTTP/1.1 ")
	w.writeString(strconv.Itoa(code))
	w.writeString(" ")
	w.writeString(statusText(code))
	w.writeString("\r\ncontent-type: text/plain\r\ncontent-length: ")
	w.writeString(strconv.Itoa(len(body)))
	w.writeString("\r\n")
	for _, line := range extra {
		w.writeString(line)
		w.writeString("\r\n")
	}
	if !keep {
		w.writeString("connection: close\r\n")
	}
	w.writeString("\r\n")
	if !h.isHead {
		w.writeString(body)
	}
	return w.flush() == nil && keep
}

// respondError answers with an error status and a one-line body.
func (s *session) respondError(code int, msg string) bool {
	if s.out.pb == nil {
		s.out.acquire()
	}
	return s.respond(code, msg+"\n", nil)
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 413:
		return "Content Too Large"
	case 429:
		return "Too Many Requests"
	case 426:
		return "Upgrade Required"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}

func equalFoldBoth(a, b []byte) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
