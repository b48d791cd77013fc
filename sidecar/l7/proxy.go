package l7

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
)

// maxConnectAttempts bounds the endpoints tried for one request when dials
// fail (HAProxy's "retries" with "option redispatch"): a connection that
// was never made cannot have delivered the request.
const maxConnectAttempts = 3

// serve routes and answers one request whose head is buffered. It reports
// whether the connection may carry another request.
func (s *session) serve(cfg *Config) bool {
	cfg.Stats.RqTotal.Add(1)
	h := &s.head
	rt := cfg.Routes.Match(&h.Request)
	switch {
	case rt == nil:
		return s.local(cfg, 404, "no route matched the request\n")
	case rt.Direct != nil:
		return s.local(cfg, rt.Direct.Status, rt.Direct.Body)
	case rt.Redirect != nil:
		return s.redirect(cfg, rt)
	}
	cl := rt.Pick().Cluster
	switch {
	case cl == nil:
		return s.local(cfg, 503, "cluster not found\n")
	case cl.Overloaded():
		cl.Stats.OverflowRq.Add(1)
		return s.local(cfg, 503, "upstream overflow: too many requests in flight\n")
	}
	cl.Stats.RqTotal.Add(1)
	cl.Stats.RqActive.Add(1)
	defer cl.Stats.RqActive.Add(-1)
	code, keep := s.forward(cfg, rt, cl)
	cl.Stats.CountStatus(code)
	cfg.Stats.CountStatus(code)
	return keep
}

// local answers the request without an upstream.
func (s *session) local(cfg *Config, code int, body string) bool {
	cfg.Stats.CountStatus(code)
	return s.respond(code, body, nil)
}

// forward proxies the request to cl and relays the response. It returns the
// status sent to the client and whether the client connection may be
// reused.
func (s *session) forward(cfg *Config, rt *route.Route, cl *cluster.Cluster) (int, bool) {
	var lastErr error
	for attempt := 0; attempt < maxConnectAttempts; attempt++ {
		ep := cl.Pick(0)
		if ep == nil {
			cl.Stats.NoHealthy.Add(1)
			return 503, s.respondError(503, "no healthy upstream")
		}
		u, err := s.exchange(cfg, rt, cl, ep)
		if err == nil {
			return u.status, u.keep
		}
		var retry *retryable
		if !errors.As(err, &retry) {
			return s.failUpstream(cl, err)
		}
		lastErr = retry.err
		cl.Stats.RqRetry.Add(1)
	}
	return s.failUpstream(cl, lastErr)
}

// retryable wraps an error that happened before the request could have
// reached the upstream, so another attempt is safe.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }

// upstreamError wraps an error from the upstream side after the request
// may have been sent, with whether response bytes reached the client.
type upstreamError struct {
	err           error
	clientTouched bool
}

func (u *upstreamError) Error() string { return u.err.Error() }

// result is a completed exchange.
type result struct {
	status int
	keep   bool
}

// failUpstream answers a failed exchange: 504 for a timeout, 502 otherwise,
// or a bare close when the response had already started.
func (s *session) failUpstream(cl *cluster.Cluster, err error) (int, bool) {
	var ue *upstreamError
	if errors.As(err, &ue) && ue.clientTouched {
		return 502, false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		cl.Stats.RqTimeout.Add(1)
		return 504, s.respondError(504, "upstream request timeout")
	}
	var ce *connectError
	if errors.As(err, &ce) {
		return 502, s.respondError(502, "upstream connect error: "+ce.err.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return 502, s.respondError(502, "upstream closed the connection before responding")
	}
	if errors.Is(err, errBadResponse) || errors.Is(err, errBadChunk) || errors.Is(err, errHeadTooLarge) {
		return 502, s.respondError(502, "malformed response from upstream")
	}
	return 502, s.respondError(502, "upstream reset: "+err.Error())
}

// connectError is a failed dial.
type connectError struct{ err error }

func (c *connectError) Error() string { return "connect: " + c.err.Error() }

// dial returns a pooled connection to ep or a new one, and whether it was
// pooled.
func dial(cl *cluster.Cluster, ep *cluster.Endpoint) (net.Conn, bool, error) {
	if c := ep.Pool.Get(); c != nil {
		return c, true, nil
	}
	d := net.Dialer{Timeout: cl.ConnectTimeout}
	c, err := d.Dial("tcp", ep.Addr)
	if err != nil {
		ep.ConnectFailures.Add(1)
		cl.Stats.CxConnectFail.Add(1)
		return nil, false, &connectError{err}
	}
	cl.Stats.CxTotal.Add(1)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return c, false, nil
}

// now is the clock, for tests.
var now = time.Now
