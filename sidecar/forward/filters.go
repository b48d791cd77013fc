package forward

import (
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// requestFilters is a stream's HTTP filter state for its request in
// progress, reused from one request to the next.
type requestFilters struct {
	stream httpfilter.Stream
	resp   httpfilter.Response // the upstream response head as filters see it
	// idleOut is set when a wait ran into the stream idle timeout.
	idleOut bool
}

// MarkIdleTimeout records that a filter's wait ran into the stream idle
// timeout: the request is answered 408, as Envoy's stream idle timer does.
func (ss *StreamState) MarkIdleTimeout() { ss.filters.idleOut = true }

// filterRequest runs the request-headers hooks of the HTTP filters on the
// request routed to rt (nil: no route matched; the listener's filters
// run, as in Envoy). done says a filter answered or ended the request;
// keep is then whether the connection may carry another.
func (f *forwarder) filterRequest(rt *route.Route) (done, keep bool) {
	fs := &f.ss.filters
	fs.stream.Reset(f.st.Request(), f.st)
	fs.stream.Conn = f.conn()
	fs.stream.HTTP2 = f.st.Framing().HTTP2
	fs.idleOut = false
	index := -1
	if rt != nil {
		index = rt.Index
	}
	verdict := f.cfg.Filters.RequestHeaders(&fs.stream, index)
	f.info.Flags |= fs.stream.Flags
	switch verdict {
	case httpfilter.Continue:
		return false, false
	case httpfilter.StopReply:
		r := &fs.stream.Reply
		f.cfg.Stats.CountStatus(r.Status)
		return true, f.st.Reply(LocalReply{Code: r.Status, Body: r.Body, Headers: headerLines(r.Headers)})
	}
	if fs.idleOut {
		// Envoy's answer when stream_idle_timeout fires before a response.
		f.info.Flags |= stream.StreamIdleTimeout
		f.cfg.Stats.CountStatus(408)
		return true, f.st.Reply(LocalReply{Code: 408, Body: "stream timeout"})
	}
	f.info.Flags |= stream.DownstreamConnectionTermination
	return true, false // the client went away
}

// ConnStream is a [Stream] that knows its downstream connection (its
// addresses and TLS peer), for filters and the XFCC header. Codecs
// implement it as an optional capability.
type ConnStream interface {
	Conn() *stream.Conn
}

// conn returns the stream's connection, or nil when the codec does not
// know it.
func (f *forwarder) conn() *stream.Conn {
	if cs, ok := f.st.(ConnStream); ok {
		return cs.Conn()
	}
	return nil
}

// headerLines formats hs for a local reply. Local replies of filters only.
func headerLines(hs []route.Header) []string {
	if len(hs) == 0 {
		return nil
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = string(h.Name) + ": " + string(h.Value)
	}
	return out
}

// writeFilteredHead runs the response-headers hooks on the upstream
// response head h of ex and writes the head as they leave it, asking the
// client to close when closing is set. It reports replied when a hook
// replaced the response with a local reply, which it has sent instead;
// keep is then whether the client connection may be reused.
func (f *forwarder) writeFilteredHead(ex Exchange, h *ResponseHead, closing bool) (replied, keep bool) {
	fs := &f.ss.filters
	r := &fs.resp
	r.Status, r.Headers = h.Status, ex.Headers(r.Headers[:0])
	f.mutateResponse(f.rt, &r.Headers)
	if f.cfg.AccessLog.WantsResponse() {
		f.cfg.AccessLog.Response(&f.ss.log, r.Headers)
	}
	verdict := f.cfg.Filters.ResponseHeaders(&fs.stream, r)
	f.info.Flags |= fs.stream.Flags
	if verdict != httpfilter.Continue {
		rep := &fs.stream.Reply
		return true, f.st.Reply(LocalReply{Code: rep.Status, Body: rep.Body, Headers: headerLines(rep.Headers)})
	}
	reason := h.Reason
	if r.Status != h.Status {
		reason = nil
	}
	f.st.WriteHead(r.Status, reason, r.Headers, closing)
	return false, false
}
