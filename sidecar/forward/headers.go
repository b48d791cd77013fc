package forward

import (
	"math/rand/v2"
	"net/netip"
	"strconv"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// RequestID is an HTTP connection manager's x-request-id policy.
type RequestID struct {
	// Generate gives a request without x-request-id a UUIDv4 one
	// (generate_request_id, true by default in Envoy).
	Generate bool
	// Edge: the listener takes the client's address as the remote one
	// (use_remote_address), so a client's own x-request-id is replaced
	// unless Preserve (preserve_external_request_id) or the client's
	// address is internal (loopback or private, Envoy's historical
	// internal_address_config default).
	Edge, Preserve bool
}

// Describer is a [Stream] that can describe its connection for header
// formats and access logs: it sets info's Protocol, Downstream and Local.
// It must not allocate.
type Describer interface {
	Describe(info *stream.Info)
}

// headerState is a stream's state for header mutations, reused from one
// request to the next.
type headerState struct {
	scratch route.Scratch
	cookies route.SetCookies // made by the route's hash policies
	id      [36]byte
	num     [20]byte
}

var (
	xRequestID      = []byte("x-request-id")
	xExpectedTimout = []byte("x-envoy-expected-rq-timeout-ms")
	xServiceTime    = []byte("x-envoy-upstream-service-time")
	setCookie       = []byte("set-cookie")
)

// describe fills the stream info's description of the connection when
// the configuration may read it.
func (f *forwarder) describe() {
	f.ss.headers.scratch.Reset()
	f.ss.headers.cookies.Reset()
	if !f.cfg.Describe {
		return
	}
	if d, ok := f.st.(Describer); ok {
		d.Describe(f.info)
	} else if f.st.Framing().HTTP2 {
		f.info.Protocol = "HTTP/2"
	}
	if c := f.conn(); c != nil {
		if !f.info.Addrs.Downstream.IsValid() {
			f.info.Addrs.Downstream, f.info.Addrs.Local = c.Remote, c.Local
		}
		f.info.ConnID = c.ID
		if c.TLS != nil {
			f.info.ServerName = c.TLS.ServerName
		}
	}
}

// requestID applies the x-request-id policy to the request head.
func (f *forwarder) requestID() {
	p := &f.cfg.RequestID
	if !p.Generate {
		return
	}
	r := f.st.Request()
	_, has := r.Header("x-request-id")
	if has && (!p.Edge || p.Preserve || internal(f.st.Peer())) {
		return
	}
	if has {
		r.Headers = route.RemoveHeader(r.Headers, "x-request-id")
	}
	hs := &f.ss.headers
	uuid4(&hs.id)
	r.Headers = append(r.Headers, route.Header{Name: xRequestID, Value: hs.id[:]})
}

// internal reports whether peer (an IP address as text) is loopback or
// private.
func internal(peer []byte) bool {
	a, err := netip.ParseAddr(string(peer))
	return err == nil && (a.IsLoopback() || a.IsPrivate())
}

// uuid4 writes a random (version 4, RFC 9562) UUID into dst.
func uuid4(dst *[36]byte) {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hex[c>>4], hex[c&0xf]
		j += 2
	}
}

// prepare applies rt's request mutations, path and Host rewrites, and
// Envoy's request headers, to the request before its first attempt.
func (f *forwarder) prepare(rt *route.Route) {
	r, hs := f.st.Request(), &f.ss.headers
	if rt.Headers.Requests() {
		c := format.Context{Info: f.info, Request: r}
		rt.Headers.Request(r, &c, &hs.scratch)
	}
	if rt.PathRegex != nil {
		r.Path = rt.PathRegex.Rewrite(r.Path)
	}
	if rt.HostHeader != "" {
		if v, ok := r.Header(rt.HostHeader); ok && len(v) > 0 {
			r.Host = v
		}
	}
	if f.cfg.EnvoyHeaders {
		f.expectedTimeout(rt, r)
	}
	if rt.Headers.Requests() || rt.PathRegex != nil || rt.HostHeader != "" || f.cfg.EnvoyHeaders {
		f.captureRequest() // the logs see the head as forwarded
	}
}

// hash is the request's hash by rt's policies. A cookie policy with a
// ttl makes a missing cookie from the downstream connection's addresses,
// for mutateResponse to set; a stream that cannot tell them makes none
// (the policy then finds no value).
func (f *forwarder) hash(rt *route.Route) uint64 {
	r := f.st.Request()
	if !rt.SetsCookie() {
		return rt.Hash(r, f.st.Peer())
	}
	sc := &f.ss.headers.cookies
	if c := f.conn(); c != nil {
		sc.Remote, sc.Local = c.Remote, c.Local
	} else {
		if d, ok := f.st.(Describer); ok && !f.info.Addrs.Downstream.IsValid() {
			d.Describe(f.info)
		}
		sc.Remote, sc.Local = f.info.Addrs.Downstream, f.info.Addrs.Local
	}
	if !sc.Remote.IsValid() {
		return rt.Hash(r, f.st.Peer())
	}
	return rt.HashSetting(r, f.st.Peer(), sc)
}

// expectedTimeout tells the upstream how long the proxy waits for it
// (x-envoy-expected-rq-timeout-ms): the per-try timeout, else the route
// timeout, when either applies.
func (f *forwarder) expectedTimeout(rt *route.Route, r *route.Request) {
	t := rt.Timeout
	if rt.Retry != nil && rt.Retry.PerTry > 0 && (t <= 0 || rt.Retry.PerTry < t) {
		t = rt.Retry.PerTry
	}
	r.Headers = route.RemoveHeader(r.Headers, "x-envoy-expected-rq-timeout-ms")
	if t <= 0 {
		return
	}
	hs := &f.ss.headers
	v := hs.scratch.Bytes(strconv.AppendInt(hs.num[:0], t.Milliseconds(), 10))
	r.Headers = append(r.Headers, route.Header{Name: xExpectedTimout, Value: v})
}

// editsResponse reports whether the response head of rt's upstream goes
// through mutateResponse.
func (f *forwarder) editsResponse(rt *route.Route) bool {
	return f.cfg.EnvoyHeaders || rt.Headers.Responses() || f.ss.headers.cookies.Len() > 0
}

// mutateResponse applies rt's response mutations and Envoy's response
// header to the upstream response head r, and adds the cookies rt's hash
// policies set (before the mutations, as Envoy's router adds them when
// the upstream head arrives).
func (f *forwarder) mutateResponse(rt *route.Route, r *[]route.Header) {
	hs := &f.ss.headers
	for i := range hs.cookies.Len() {
		*r = append(*r, route.Header{Name: setCookie, Value: hs.cookies.Value(i)})
	}
	if f.cfg.EnvoyHeaders {
		// From the request's start, retries and connects included.
		ms := f.info.FirstUpstreamByte.Milliseconds()
		v := hs.scratch.Bytes(strconv.AppendInt(hs.num[:0], ms, 10))
		*r = append(route.RemoveHeader(*r, "x-envoy-upstream-service-time"), route.Header{Name: xServiceTime, Value: v})
	}
	if rt.Headers.Responses() {
		l := (*route.HeaderList)(r)
		c := format.Context{Info: f.info, Request: f.st.Request(), Response: l}
		rt.Headers.Response(l, &c, &hs.scratch)
	}
}
