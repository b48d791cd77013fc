// Package format compiles Envoy's substitution format strings (the
// %…% command operators of header values and access logs) once, at
// configuration time, into a [Format] that appends a request's values to a
// byte slice without parsing or allocating.
//
// See https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage
// for the operators; [Parse] lists the ones supported.
package format

import (
	"net/netip"
	"strconv"

	"github.com/meshlb/meshlb/sidecar/stream"
)

// Headers is a header map a format reads %REQ(x)% or %RESP(x)% from.
// Header takes a lower-case name (":path", ":method" and ":authority"
// address the request's fields) and must not allocate.
type Headers interface {
	Header(name string) ([]byte, bool)
}

// PathQuerier is a request Headers whose :path, as Envoy has it, is the
// path and query: %REQ(:PATH)% writes both.
type PathQuerier interface {
	PathQuery() (path, query []byte)
}

// Context is what a format reads. Any field may be nil.
type Context struct {
	Info     *stream.Info
	Request  Headers
	Response Headers
	// Trailers are the response's trailers (%TRAILER(x)%).
	Trailers Headers
}

// Format is a compiled format string. Immutable and safe for concurrent
// use.
type Format struct {
	parts []part
	// text: missing values write "-" (access logs); else nothing
	// (header values, as Envoy's header formatter omits empty values).
	text bool
}

// op is a command operator.
type op uint8

const (
	opLiteral op = iota
	opStartTime
	opReq
	opResp
	opProtocol
	opResponseCode
	opResponseFlags
	opBytesReceived
	opBytesSent
	opDuration
	opResponseDuration
	opUpstreamHost
	opUpstreamCluster
	opRouteName
	opRemote
	opRemoteNoPort
	opLocal
	opLocalNoPort
	opHostname
	opAttempts
	opTrailer
	opRequestDuration
	opCodeDetails
	opUpstreamLocal
	opUpstreamLocalNoPort
	opServerName
	opUpstreamFailure
	opConnID
)

// part is a literal or one command operator.
type part struct {
	op       op
	lit      string // the literal, or the hostname
	name     string // REQ/RESP: the header, lower case
	alt      string // REQ/RESP: the alternative header, or ""
	max      int    // the value's length limit; 0: none
	time     []timePart
	numbered bool // the value is a number (typed in JSON)
}

// Literal reports whether f has no operator, and its text.
func (f *Format) Literal() (string, bool) {
	switch {
	case len(f.parts) == 0:
		return "", true
	case len(f.parts) == 1 && f.parts[0].op == opLiteral:
		return f.parts[0].lit, true
	}
	return "", false
}

// Append appends f's value for c to dst.
func (f *Format) Append(dst []byte, c *Context) []byte {
	for i := range f.parts {
		p := &f.parts[i]
		if p.op == opLiteral {
			dst = append(dst, p.lit...)
			continue
		}
		n := len(dst)
		var ok bool
		dst, ok = p.append(dst, c)
		switch {
		case !ok:
			dst = dst[:n]
			if f.text {
				dst = append(dst, '-')
			}
		case p.max > 0 && len(dst)-n > p.max:
			dst = dst[:n+p.max]
		}
	}
	return dst
}

// append appends the operator's value; ok is false when it has none.
func (p *part) append(dst []byte, c *Context) ([]byte, bool) {
	switch p.op {
	case opReq:
		return appendHeader(dst, c.Request, p.name, p.alt)
	case opResp:
		return appendHeader(dst, c.Response, p.name, p.alt)
	case opTrailer:
		return appendHeader(dst, c.Trailers, p.name, p.alt)
	case opHostname:
		return append(dst, p.lit...), true
	}
	if c.Info == nil {
		return dst, false
	}
	return p.appendInfo(dst, c.Info)
}

// appendInfo appends a value of the stream info i.
func (p *part) appendInfo(dst []byte, i *stream.Info) ([]byte, bool) {
	switch p.op {
	case opStartTime:
		return appendTime(dst, p.time, i.Start.UTC()), !i.Start.IsZero()
	case opProtocol:
		return append(dst, i.Protocol...), i.Protocol != ""
	case opResponseCode:
		return strconv.AppendInt(dst, int64(i.Code), 10), true
	case opResponseFlags:
		return AppendFlags(dst, i.Flags), true
	case opBytesReceived:
		return strconv.AppendInt(dst, i.BytesReceived, 10), true
	case opBytesSent:
		return strconv.AppendInt(dst, i.BytesSent, 10), true
	case opDuration:
		return strconv.AppendInt(dst, i.Total.Milliseconds(), 10), true
	case opResponseDuration:
		return strconv.AppendInt(dst, i.FirstUpstreamByte.Milliseconds(), 10), i.FirstUpstreamByte > 0
	case opRequestDuration:
		return strconv.AppendInt(dst, i.RequestDone.Milliseconds(), 10), i.RequestDone > 0
	case opAttempts:
		return strconv.AppendInt(dst, int64(i.Attempts), 10), true
	case opUpstreamHost:
		return append(dst, i.Endpoint...), i.Endpoint != ""
	case opUpstreamCluster:
		return append(dst, i.Cluster...), i.Cluster != ""
	case opRouteName:
		return append(dst, i.Route...), i.Route != ""
	case opRemote:
		return appendAddr(dst, i.Addrs.Downstream, true)
	case opRemoteNoPort:
		return appendAddr(dst, i.Addrs.Downstream, false)
	case opLocal:
		return appendAddr(dst, i.Addrs.Local, true)
	case opLocalNoPort:
		return appendAddr(dst, i.Addrs.Local, false)
	}
	return p.appendMore(dst, i)
}

// appendMore appends the values appendInfo leaves to it.
func (p *part) appendMore(dst []byte, i *stream.Info) ([]byte, bool) {
	switch p.op {
	case opUpstreamLocal:
		return appendAddr(dst, i.Addrs.UpstreamLocal, true)
	case opUpstreamLocalNoPort:
		return appendAddr(dst, i.Addrs.UpstreamLocal, false)
	case opServerName:
		return append(dst, i.ServerName...), i.ServerName != ""
	case opUpstreamFailure:
		return append(dst, i.UpstreamFailure...), i.UpstreamFailure != ""
	case opConnID:
		return strconv.AppendUint(dst, i.ConnID, 10), i.ConnID != 0
	case opCodeDetails:
		d, ok := CodeDetails(i)
		return append(dst, d...), ok
	}
	return dst, false
}

// appendHeader appends the value of header name, or of alt when name is
// absent.
func appendHeader(dst []byte, h Headers, name, alt string) ([]byte, bool) {
	if h == nil {
		return dst, false
	}
	if name == ":path" {
		if pq, ok := h.(PathQuerier); ok {
			return appendPath(dst, pq)
		}
	}
	v, ok := h.Header(name)
	if !ok && alt != "" {
		if alt == ":path" {
			if pq, isPQ := h.(PathQuerier); isPQ {
				return appendPath(dst, pq)
			}
		}
		v, ok = h.Header(alt)
	}
	return append(dst, v...), ok
}

func appendPath(dst []byte, pq PathQuerier) ([]byte, bool) {
	path, query := pq.PathQuery()
	dst = append(dst, path...)
	if query != nil {
		dst = append(dst, '?')
		dst = append(dst, query...)
	}
	return dst, path != nil
}

// appendAddr appends a as "ip:port" (IPv6 in brackets) or "ip".
func appendAddr(dst []byte, a netip.AddrPort, port bool) ([]byte, bool) {
	if !a.IsValid() {
		return dst, false
	}
	if port {
		return a.AppendTo(dst), true
	}
	return a.Addr().AppendTo(dst), true
}

// Names are the header names (lower case) a format reads with %REQ(…)%,
// %RESP(…)% and %TRAILER(…)%, alternatives included.
type Names struct {
	Request, Response, Trailers []string
}

// Names returns the header names f reads, for callers that copy them
// ahead.
func (f *Format) Names() Names {
	var n Names
	for _, p := range f.parts {
		var to *[]string
		switch p.op {
		case opReq:
			to = &n.Request
		case opResp:
			to = &n.Response
		case opTrailer:
			to = &n.Trailers
		default:
			continue
		}
		*to = append(*to, p.name)
		if p.alt != "" {
			*to = append(*to, p.alt)
		}
	}
	return n
}
