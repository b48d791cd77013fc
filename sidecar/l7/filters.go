package l7

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// requestFilters is a session's HTTP filter state for its request in
// progress, reused from one request to the next.
type requestFilters struct {
	stream httpfilter.Stream
	resp   httpfilter.Response // the upstream response head as filters see it
	// idleOut is set when a wait ran into the stream idle timeout.
	idleOut bool
}

// filterRequest runs the request-headers hooks of cfg's HTTP filters on
// the request routed to rt (nil: no route matched; the listener's filters
// run, as in Envoy). done says a filter answered or ended the request;
// keep is then whether the connection may carry another.
func (s *session) filterRequest(cfg *Config, rt *route.Route) (done, keep bool) {
	s.filters.stream.Reset(&s.head.Request, s)
	s.filters.idleOut = false
	index := -1
	if rt != nil {
		index = rt.Index
	}
	verdict := cfg.Filters.RequestHeaders(&s.filters.stream, index)
	s.info.Flags |= stream.Flags(s.filters.stream.Flags)
	switch verdict {
	case httpfilter.Continue:
		return false, false
	case httpfilter.StopReply:
		r := &s.filters.stream.Reply
		cfg.Stats.CountStatus(r.Status)
		return true, s.respond(r.Status, r.Body, headerLines(r.Headers))
	}
	if s.filters.idleOut {
		// Envoy's answer when stream_idle_timeout fires before a response.
		s.info.Flags |= stream.StreamIdleTimeout
		cfg.Stats.CountStatus(408)
		return true, s.respond(408, "stream timeout", nil)
	}
	s.info.Flags |= stream.DownstreamConnectionTermination
	return true, false // the client went away
}

// headerLines formats hs for respond. Local replies of filters only.
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

// Wait implements [httpfilter.Waiter]: it waits d and returns false early
// when the client closes or resets the connection, or once the stream idle
// timeout has passed (the request is then answered 408, as Envoy's stream
// idle timer does). Bytes the client sends meanwhile (a body, a pipelined
// request) stay buffered; once the buffer is full it waits on a timer.
func (s *session) Wait(d time.Duration) bool {
	idle := s.srv.cfg.Load().StreamIdle
	if idle > 0 && d > idle {
		s.filters.idleOut = s.Wait(idle)
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

// writeFilteredHead runs the response-headers hooks on the upstream
// response head in s.resp and writes the head as they leave it, asking the
// client to close when closing is set. It reports replied when a hook
// replaced the response with a local reply, which it has sent instead;
// keep is then whether the client connection may be reused.
func (s *session) writeFilteredHead(cfg *Config, closing bool) (replied, keep bool) {
	r := &s.filters.resp
	r.Status, r.Headers = s.resp.status, r.Headers[:0]
	for _, f := range s.resp.fields {
		colon := bytes.IndexByte(f, ':')
		r.Headers = append(r.Headers, route.Header{Name: f[:colon], Value: trimOWS(f[colon+1:])})
	}
	verdict := cfg.Filters.ResponseHeaders(&s.filters.stream, r)
	s.info.Flags |= stream.Flags(s.filters.stream.Flags)
	if verdict != httpfilter.Continue {
		rep := &s.filters.stream.Reply
		return true, s.respond(rep.Status, rep.Body, headerLines(rep.Headers))
	}
	s.info.Code = r.Status
	w := &s.out
	w.writeString("HTTP/1.1 ")
	if r.Status == s.resp.status {
		w.write(s.resp.line)
	} else {
		w.writeString(strconv.Itoa(r.Status) + " " + statusText(r.Status))
	}
	w.writeString("\r\n")
	for _, h := range r.Headers {
		w.write(h.Name)
		w.writeString(": ")
		w.write(h.Value)
		w.writeString("\r\n")
	}
	if closing {
		w.writeString("Connection: close\r\n")
	}
	w.writeString("\r\n")
	return false, false
}
