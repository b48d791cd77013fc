package l7

import (
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
)

// upstream is one upstream connection for the length of one exchange.
type upstream struct {
	conn net.Conn
	rd   reader
	out  writer
}

func (u *upstream) release() {
	u.rd.drop()
	u.out.release()
}

// exchange sends the buffered request to ep and relays the response to the
// client. An error wrapped in *retryable means nothing reached the upstream
// application and nothing reached the client: the caller may try again.
func (s *session) exchange(cfg *Config, rt *route.Route, cl *cluster.Cluster, ep *cluster.Endpoint) (result, error) {
	ep.Inflight.Add(1)
	defer ep.Inflight.Add(-1)
	ep.Requests.Add(1)
	c, reused, err := dial(cl, ep)
	if err != nil {
		return result{}, &retryable{err}
	}
	cl.Stats.CxActive.Add(1)
	defer cl.Stats.CxActive.Add(-1)
	u := &upstream{conn: c}
	u.rd.init(c)
	u.out.conn = c
	u.out.acquire()
	defer u.release()
	replay := reused && s.replayable()
	if err := s.sendRequest(u, rt); err != nil {
		c.Close()
		if replay {
			return result{}, &retryable{err}
		}
		return result{}, err
	}
	res, upKeep, err := s.relay(cfg, rt, u)
	if err != nil {
		c.Close()
		if replay && !res.touched && !u.rd.got {
			return result{}, &retryable{err}
		}
		return result{}, &upstreamError{err: err, clientTouched: res.touched}
	}
	if upKeep {
		ep.Pool.Put(c)
	} else {
		c.Close()
	}
	return res.result, nil
}

// replayable reports whether the request can be sent again after a reused
// connection turned out to be closed: it has no body and an idempotent
// method (RFC 9110 9.2.2), as net/http's Transport decides.
func (s *session) replayable() bool {
	h := &s.head
	if h.length > 0 || h.chunked {
		return false
	}
	switch string(h.Method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// sendRequest writes the request head and body to the upstream.
func (s *session) sendRequest(u *upstream, rt *route.Route) error {
	h := &s.head
	s.writeRequestHead(&u.out, rt)
	s.rd.discard(h.size)
	if h.expect && (h.length > 0 || h.chunked) {
		// Envoy's default: the proxy itself says 100 Continue.
		if _, err := s.conn.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			return err
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

// relayed is the outcome of relaying a response.
type relayed struct {
	result
	touched bool // bytes of the response reached the client
}

// relay reads the upstream response and writes it to the client. It reports
// whether the upstream connection can be reused.
func (s *session) relay(cfg *Config, rt *route.Route, u *upstream) (relayed, bool, error) {
	var res relayed
	timeout := rt.Timeout
	if timeout <= 0 {
		timeout = cfg.StreamIdle
	}
	if timeout > 0 {
		u.conn.SetReadDeadline(now().Add(timeout))
	}
	// The head's slices may point at bytes a body read has since replaced:
	// only its flags are used from here on.
	head := &s.head
	if err := s.readResponse(u, &res); err != nil {
		return res, false, err
	}
	r := &s.resp
	res.status = r.status
	if r.status == 101 && head.upgrade != nil {
		res.touched = true
		return res, false, s.tunnel(u)
	}
	bodyless := r.bodyless(head.isHead)
	delimited := !bodyless && !r.chunked && r.length < 0
	res.keep = !head.close && !delimited
	s.writeResponseHead(!res.keep)
	u.rd.discard(r.size)
	res.touched = true
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
	if err == nil {
		err = s.out.flush()
	}
	if err != nil {
		res.keep = false
		return res, false, err
	}
	if timeout > 0 {
		u.conn.SetReadDeadline(time.Time{})
	}
	return res, !r.close && !delimited && len(u.rd.buffered()) == 0, nil
}

// readResponse reads response heads until a final one, forwarding 1xx
// interim responses (other than 101) to the client.
func (s *session) readResponse(u *upstream, res *relayed) error {
	for {
		err := parseResponse(&s.resp, u.rd.buffered())
		if err == errIncomplete {
			if err = u.rd.fill(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if s.resp.status >= 200 || s.resp.status == 101 {
			return nil
		}
		res.touched = true
		if _, err := s.conn.Write(u.rd.buffered()[:s.resp.size]); err != nil {
			return err
		}
		u.rd.discard(s.resp.size)
	}
}
