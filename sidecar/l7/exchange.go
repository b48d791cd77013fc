package l7

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// upstream is one upstream connection with its reader and writer. It is
// what the endpoint's pool holds, so the reader's raw-conn binding is made
// once per connection, not once per request; its buffers are pooled
// separately and held only during an exchange.
type upstream struct {
	net.Conn
	rd  reader
	out writer
}

func newUpstream(c net.Conn) *upstream {
	u := &upstream{Conn: c}
	u.rd.init(c)
	u.out.init(c)
	return u
}

// release returns the buffers; it must run before u is pooled, since
// another request may take u from the pool at once.
func (u *upstream) release() {
	u.rd.drop()
	u.out.release()
}

// done ends an exchange on u: it is pooled when keep is set, else closed.
func (u *upstream) done(ep *cluster.Endpoint, keep bool) {
	u.release()
	if keep {
		ep.Pool.Put(u)
	} else {
		u.Close()
	}
}

// exchange sends the buffered request to ep and relays the response to the
// client. On failure it says how the attempt failed, so the caller can
// decide on another one.
func (s *session) exchange(cfg *Config, rt *route.Route, cl *cluster.Cluster, ep *cluster.Endpoint, o attemptOpts) (result, *attemptError) {
	if fail := acquireConn(cl, o.deadline); fail != nil {
		return result{}, fail
	}
	defer cl.Stats.Cx.Release()
	ep.Inflight.Add(1)
	defer ep.Inflight.Add(-1)
	ep.Requests.Add(1)
	u, reused, err := dial(cl, ep, o.deadline)
	if err != nil {
		if !o.deadline.IsZero() && !time.Now().Before(o.deadline) {
			return result{}, &attemptError{failTimeout, err}
		}
		return result{}, &attemptError{failConnect, err}
	}
	u.rd.got = false // per exchange: tells a stale pooled connection from a reset
	u.out.acquire()
	u.out.idle = cfg.StreamIdle
	if err := s.sendRequest(cfg, u, rt); err != nil {
		fail := s.sendFailure(err, reused)
		if fail.kind == failUpload {
			return s.earlyResponse(cfg, u, ep, o, fail)
		}
		u.done(ep, false)
		return result{}, fail
	}
	res, upKeep, fail := s.relay(cfg, u, o)
	if fail != nil {
		if fail.kind == failReset && reused && !u.rd.got && s.replayable() {
			fail.kind = failStale
		}
		u.done(ep, false)
		return res, fail // the status, if a head arrived, is the outcome's
	}
	u.done(ep, upKeep)
	return res, nil
}

// acquireConn takes one of the cluster's max_connections slots for an
// attempt. When none is free the attempt waits as a pending request
// (upstream_cx_overflow) until the route's deadline (then 504) or, without
// one, the connect timeout (then 503 overflow); beyond
// max_pending_requests it fails at once (upstream_rq_pending_overflow), as
// in Envoy's HTTP/1.1 pool.
func acquireConn(cl *cluster.Cluster, deadline time.Time) *attemptError {
	st := cl.Stats
	if st.Cx.Acquire(cl.Limits.MaxConnections) {
		return nil
	}
	st.CxOverflow.Add(1)
	if n := st.RqPending.Add(1); cl.Limits.MaxPending != 0 && n > cl.Limits.MaxPending {
		st.RqPending.Add(-1)
		st.OverflowRq.Add(1)
		return &attemptError{failOverflow, errOverflow}
	}
	defer st.RqPending.Add(-1)
	wait := deadline
	if wait.IsZero() {
		wait = time.Now().Add(cl.ConnectTimeout)
	}
	if st.Cx.Wait(cl.Limits.MaxConnections, wait) {
		return nil
	}
	if !deadline.IsZero() {
		return &attemptError{failTimeout, errDeadline} // the route timeout: 504
	}
	st.OverflowRq.Add(1)
	return &attemptError{failOverflow, errOverflow}
}

var errOverflow = errors.New("upstream overflow")

// sendFailure classifies an error from sending the request.
func (s *session) sendFailure(err error, reused bool) *attemptError {
	var src *sourceError
	switch {
	case errors.Is(err, errBadChunk):
		return &attemptError{failClient, err}
	case errors.As(err, &src) && errors.Is(err, os.ErrDeadlineExceeded):
		return &attemptError{failClientTimeout, err}
	case src != nil:
		return &attemptError{failClient, err}
	case !s.bodyless():
		// The upstream failed while the body was being sent to it: the
		// body cannot be sent again.
		return &attemptError{failUpload, err}
	case reused && s.replayable():
		return &attemptError{failStale, err}
	}
	return &attemptError{failReset, err}
}

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

// sendRequest writes the request head and body to the upstream.
func (s *session) sendRequest(cfg *Config, u *upstream, rt *route.Route) error {
	h := &s.head
	s.writeRequestHead(&u.out, rt, cfg.SkipXFF)
	h.consume(&s.rd)
	if h.expect && (h.length > 0 || h.chunked) {
		// Envoy's default: the proxy itself says 100 Continue.
		if err := s.out.send(continue100); err != nil {
			return &sourceError{err} // the client, the body's source
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

// relay reads the upstream response and writes it to the client. It
// reports whether the upstream connection can be reused.
func (s *session) relay(cfg *Config, u *upstream, o attemptOpts) (result, bool, *attemptError) {
	var res result
	u.rd.tm.set(cfg.StreamIdle, hardDeadline(o.timeout))
	// The head's slices may point at bytes a body read has since replaced:
	// only its flags are used from here on.
	head := &s.head
	touched, err := s.readResponse(u)
	if err != nil {
		return res, false, headFailure(err, touched)
	}
	s.info.FirstUpstreamByte = time.Since(s.info.Start)
	r := &s.resp
	res.status = r.status
	if o.retryStatus != nil && !touched && o.retryStatus.RetriesStatus(r.status) {
		return res, false, &attemptError{failStatus, fmt.Errorf("upstream answered %d", r.status)}
	}
	if r.status == 101 && head.upgrade != nil {
		return res, false, relayFailure(s.tunnel(u))
	}
	bodyless := r.bodyless(head.isHead)
	delimited := !bodyless && !r.chunked && r.length < 0
	res.keep = !head.close && !delimited
	if s.filters.stream.WantsResponseHeaders() {
		if replied, keep := s.writeFilteredHead(cfg, !res.keep); replied {
			return result{status: s.filters.stream.Reply.Status, keep: keep}, false, nil
		}
	} else {
		s.writeResponseHead(!res.keep)
	}
	u.rd.discard(r.size)
	if err := s.copyResponseBody(u, bodyless); err != nil {
		var src *sourceError
		if !errors.As(err, &src) {
			s.info.Flags |= stream.DownstreamConnectionTermination
		}
		return res, false, relayFailure(err)
	}
	return res, !r.close && !delimited && len(u.rd.buffered()) == 0, nil
}

// copyResponseBody relays the body framed as the response head says.
func (s *session) copyResponseBody(u *upstream, bodyless bool) error {
	r := &s.resp
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

// headFailure classifies an error while waiting for the response head.
func headFailure(err error, touched bool) *attemptError {
	switch {
	case touched:
		return &attemptError{failRelay, err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &attemptError{failTimeout, err}
	case errors.Is(err, errBadResponse) || errors.Is(err, errHeadTooLarge):
		return &attemptError{failBadResponse, err}
	}
	return &attemptError{failReset, err}
}

func relayFailure(err error) *attemptError {
	if err == nil {
		return nil
	}
	return &attemptError{failRelay, err}
}

// readResponse reads response heads until a final one, forwarding 1xx
// interim responses (other than 101) to the client. touched says whether
// any reached the client.
func (s *session) readResponse(u *upstream) (touched bool, err error) {
	for {
		err := parseResponse(&s.resp, u.rd.buffered())
		if err == errIncomplete {
			if err = u.rd.fill(); err != nil {
				return touched, err
			}
			continue
		}
		if err != nil {
			return touched, err
		}
		if s.resp.status >= 200 || s.resp.status == 101 {
			return touched, nil
		}
		touched = true
		// Under the idle write deadline, as every write to the client.
		if err := s.out.send(u.rd.buffered()[:s.resp.size]); err != nil {
			return touched, err
		}
		u.rd.discard(s.resp.size)
	}
}
