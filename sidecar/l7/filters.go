package l7

import (
	"errors"
	"os"
	"time"

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

// filterRequest runs the request-headers hooks of the HTTP filters on the
// request routed to rt (nil: no route matched; the listener's filters
// run, as in Envoy). done says a filter answered or ended the request;
// keep is then whether the connection may carry another.
func (f *forwarder) filterRequest(rt *route.Route) (done, keep bool) {
	fs := &f.ss.filters
	fs.stream.Reset(f.st.Request(), f.st)
	fs.idleOut = false
	index := -1
	if rt != nil {
		index = rt.Index
	}
	verdict := f.cfg.Filters.RequestHeaders(&fs.stream, index)
	f.info.Flags |= stream.Flags(fs.stream.Flags)
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
	verdict := f.cfg.Filters.ResponseHeaders(&fs.stream, r)
	f.info.Flags |= stream.Flags(fs.stream.Flags)
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

// Wait implements [httpfilter.Waiter]: it waits d and returns false early
// when the client closes or resets the connection, or once the stream idle
// timeout has passed (the request is then answered 408, as Envoy's stream
// idle timer does). Bytes the client sends meanwhile (a body, a pipelined
// request) stay buffered; once the buffer is full it waits on a timer.
func (s *session) Wait(d time.Duration) bool {
	idle := s.srv.cfg.Load().StreamIdle
	if idle > 0 && d > idle {
		s.fs.filters.idleOut = s.Wait(idle)
		return false
	}
	until := time.Now().Add(d)
	// The wait sets its own deadline; a timed body read after it gets
	// fresh bounds from its next fill.
	defer s.rd.tm.resume(s.rd.tm.timed)
	s.rd.tm.timed = false
	s.rd.tm.dl.set(s.conn, until)
	// A fill never moves buffered bytes while there is room after them,
	// so the request head's slices stay valid.
	for s.rd.buf != nil && s.rd.w < len(*s.rd.buf) {
		if err := s.rd.fill(); err != nil {
			return errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	time.Sleep(time.Until(until))
	return true
}
