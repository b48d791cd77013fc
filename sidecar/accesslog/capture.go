package accesslog

import (
	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Capture holds what a request's access logs read of its request and
// response heads and trailers, copied while they are valid (a head's
// bytes are reused once its body is read). A stream keeps one by value
// and reuses it; it must not be copied after first use.
type Capture struct {
	buf   []byte
	req   capturedRequest
	resp  captured
	trail captured
	path  span // the request's :path and query, when a log reads :path
	qry   span
	// headers has bit i set when the request matched the Set's header
	// filter i.
	headers uint64
	ctx     format.Context // what the formats read, kept here so as not to allocate
}

// context returns the format context of c and info.
func (c *Capture) context(info *stream.Info) *format.Context {
	c.ctx = format.Context{Info: info}
	if c.req.c != nil {
		c.ctx.Request = &c.req
	}
	if c.resp.names != nil {
		c.ctx.Response = &c.resp
	}
	if c.trail.names != nil {
		c.ctx.Trailers = &c.trail
	}
	return &c.ctx
}

// span is a captured value in Capture.buf.
type span struct {
	start, end int32
	ok         bool
}

// captured is one head's captured values, by the names its Set reads;
// formats read them through it.
type captured struct {
	c     *Capture
	names []string
	vals  []span
}

// Header implements format.Headers.
func (h *captured) Header(name string) ([]byte, bool) {
	for i, n := range h.names {
		if n == name {
			return h.c.bytes(h.vals[i])
		}
	}
	return nil, false
}

// capturedRequest is the request's captured head, with its :path as
// Envoy has it (path and query).
type capturedRequest struct{ captured }

// PathQuery implements format.PathQuerier.
func (h *capturedRequest) PathQuery() (path, query []byte) {
	p, _ := h.c.bytes(h.c.path)
	q, _ := h.c.bytes(h.c.qry)
	return p, q
}

func (c *Capture) bytes(s span) ([]byte, bool) {
	if !s.ok {
		return nil, false
	}
	return c.buf[s.start:s.end], true
}

func (c *Capture) keep(v []byte, ok bool) span {
	if !ok {
		return span{}
	}
	n := len(c.buf)
	c.buf = append(c.buf, v...)
	return span{start: int32(n), end: int32(len(c.buf)), ok: true}
}

// request captures the values of names in r, and whether :path is
// read, resetting c.
func (c *Capture) request(names []string, path bool, r *route.Request) {
	c.buf = c.buf[:0]
	c.req = capturedRequest{captured{c: c, names: names, vals: c.req.vals[:0]}}
	c.resp = captured{c: c, vals: c.resp.vals[:0]}
	c.trail = captured{c: c, vals: c.trail.vals[:0]}
	for _, n := range names {
		v, ok := r.Header(n)
		c.req.vals = append(c.req.vals, c.keep(v, ok))
	}
	c.path, c.qry = span{}, span{}
	if path {
		c.path = c.keep(r.Path, r.Path != nil)
		c.qry = c.keep(r.Query, r.Query != nil)
	}
}

// fields captures the values of names in hs into h.
func (c *Capture) fields(h *captured, names []string, hs []route.Header) {
	h.c, h.names, h.vals = c, names, h.vals[:0]
	l := route.HeaderList(hs)
	for _, n := range names {
		v, ok := l.Header(n)
		h.vals = append(h.vals, c.keep(v, ok))
	}
}
