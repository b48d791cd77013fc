package l7

import (
	"errors"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// The HTTP/1 server codec presents each request as a [forward.Stream].
var (
	_ forward.Stream     = (*session)(nil)
	_ forward.ConnStream = (*session)(nil)
)

// Request implements [forward.Stream].
func (s *session) Request() *route.Request { return &s.head.Request }

// Peer implements [forward.Stream].
func (s *session) Peer() []byte { return s.peer }

// Conn implements [forward.ConnStream]: nil when the connection was
// served without a filter chain.
func (s *session) Conn() *stream.Conn { return s.sconn }

// Framing implements [forward.Stream].
func (s *session) Framing() forward.Framing {
	h := &s.head
	return forward.Framing{HasBody: !s.bodyless(), Replayable: s.replayable(), Upgrade: h.upgrade != nil,
		UpgradeType: h.upgrade, Expect100: h.expect, Head: h.isHead, Close: h.close}
}

// State implements [forward.Stream].
func (s *session) State() *forward.StreamState { return &s.fs }

// Bytes implements [forward.Stream]. A head not yet consumed (a local reply that
// closes) counts as received all the same.
func (s *session) Bytes() (received, sent int64) {
	received = s.rd.consumed - s.rdBase
	if !s.head.consumed {
		received += int64(s.head.size)
	}
	return received, s.out.sent - s.outBase
}

// Reply implements [forward.Stream].
func (s *session) Reply(r forward.LocalReply) bool {
	if r.Close {
		s.head.close = true
	}
	if s.out.pb == nil {
		s.out.acquire()
	}
	return s.respond(r.Code, r.Body, r.Headers)
}

// CloseAfter implements [forward.Stream].
func (s *session) CloseAfter() {
	s.head.close = true
	s.linger = true
}

// WriteHead implements [forward.Stream]: reason nil writes the status's standard
// reason phrase.
func (s *session) WriteHead(status int, reason []byte, headers []route.Header, closing bool) {
	s.fs.Info.Code = status
	s.respChunked = chunkedHeader(headers)
	w := &s.out
	w.writeString("HTTP/1.1 ")
	w.writeStatus(status)
	w.writeString(" ")
	if reason != nil {
		w.write(reason)
	} else {
		w.writeString(statusText(status))
	}
	w.writeString("\r\n")
	for _, h := range headers {
		w.write(h.Name)
		w.writeString(": ")
		w.write(h.Value)
		w.writeString("\r\n")
	}
	if closing || s.ctx.Err() != nil { // a draining listener closes after this response
		w.writeString("Connection: close\r\n")
	}
	w.writeString("\r\n")
}

// bodyless reports whether the request has no body, so it can be sent
// again without having been buffered.
func (s *session) bodyless() bool { return s.head.length <= 0 && !s.head.chunked }

// replayable reports whether the request can be sent again after a reused
// connection turned out to be closed: it has no body and an idempotent
// method (RFC 9110 9.2.2), as net/http's Transport decides.
func (s *session) replayable() bool {
	if !s.bodyless() {
		return false
	}
	switch string(s.head.Method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// sendRequest writes the request head and body to the upstream u.
func (s *session) sendRequest(u *upstream, rt *route.Route, skipXFF bool) error {
	h := &s.head
	s.writeRequestHead(&u.out, rt, skipXFF)
	h.consume(&s.rd)
	if h.expect && (h.length > 0 || h.chunked) {
		// Envoy's default: the proxy itself says 100 Continue.
		if err := s.out.send(continue100); err != nil {
			return &sourceError{Err: err} // the client, the body's source
		}
	}
	var err error
	switch {
	case h.chunked:
		err = copyChunked(&u.out, &s.rd)
	case h.length > 0:
		err = copyLength(&u.out, &s.rd, h.length)
	}
	if err != nil {
		return err
	}
	return u.out.flush()
}

// continue100 is the interim response the proxy sends for Expect:
// 100-continue.
var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// copyResponseBody relays u's response body framed as its head says.
func (s *session) copyResponseBody(u *upstream, bodyless bool) error {
	r := &u.resp
	var err error
	switch {
	case bodyless:
	case r.chunked:
		err = copyChunked(&s.out, &u.rd)
	case r.length >= 0:
		err = copyLength(&s.out, &u.rd, r.length)
	default:
		err = copyUntilEOF(&s.out, &u.rd)
	}
	if err != nil {
		return err
	}
	return s.out.flush()
}

// Wait implements [httpfilter.Waiter]: it waits d and returns false early
// when the client closes or resets the connection, or once the stream idle
// timeout has passed (the request is then answered 408, as Envoy's stream
// idle timer does). Bytes the client sends meanwhile (a body, a pipelined
// request) stay buffered; once the buffer is full it waits on a timer.
func (s *session) Wait(d time.Duration) bool {
	idle := s.srv.cfg.Load().StreamIdle
	if idle > 0 && d > idle {
		if s.Wait(idle) {
			s.fs.MarkIdleTimeout()
		}
		return false
	}
	s.fs.Now = time.Time{} // the forwarder's clock reading goes stale
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
