package l7

import (
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// maxConnectAttempts bounds the endpoints tried for one request when dials
// fail (HAProxy's "retries" with "option redispatch"): a connection that
// was never made cannot have delivered the request.
const maxConnectAttempts = 3

// serve routes and answers one request whose head is buffered, recording
// its stream info. It reports whether the connection may carry another
// request.
func (s *session) serve(cfg *Config) bool {
	s.beginInfo(cfg)
	keep := s.dispatch(cfg)
	s.endInfo(cfg)
	return keep
}

// dispatch routes and answers the request.
func (s *session) dispatch(cfg *Config) bool {
	cfg.Stats.RqTotal.Add(1)
	h := &s.head
	rt := cfg.Routes.Match(&h.Request)
	if rt != nil {
		s.info.Route = rt.Name
	}
	if done, keep := s.filterRequest(cfg, rt); done {
		return keep
	}
	switch {
	case rt == nil:
		s.info.Flags |= stream.NoRouteFound
		return s.local(cfg, 404, "no route matched the request\n")
	case rt.Direct != nil:
		return s.local(cfg, rt.Direct.Status, rt.Direct.Body)
	case rt.Redirect != nil:
		return s.redirect(cfg, rt)
	}
	cl := rt.Pick().Cluster
	switch {
	case cl == nil:
		s.info.Flags |= stream.NoClusterFound
		return s.local(cfg, 503, "cluster not found\n")
	case cl.Overloaded():
		s.info.Cluster = cl.Name
		s.info.Flags |= stream.UpstreamOverflow
		cl.Stats.OverflowRq.Add(1)
		cfg.Stats.CountStatus(503)
		return s.respondOverloaded("too many requests in flight")
	}
	s.info.Cluster = cl.Name
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

// maxAttempts bounds the attempts for one request, whatever the reasons.
const maxAttempts = 8

// overloaded is the header Envoy adds to the 503 a circuit breaker answers.
var overloaded = []string{"x-envoy-overloaded: true"}

// forward proxies the request to cl and relays the response, retrying as
// the route's policy says. The route timeout is a deadline over all tries:
// no try starts after it, and a try in progress ends at it with 504. It
// returns the status sent to the client and whether the client connection
// may be reused.
func (s *session) forward(cfg *Config, rt *route.Route, cl *cluster.Cluster) (int, bool) {
	b := newBudget(rt, time.Now())
	defer b.endRetry(cl)
	var fail *attemptError
	for range maxAttempts {
		if b.expired(time.Now()) {
			fail = &attemptError{failTimeout, errDeadline}
			break
		}
		pk := b.pick(cl, rt)
		ep := pk.Endpoint
		if ep == nil {
			s.info.Flags |= stream.NoHealthyUpstream
			cl.Stats.NoHealthy.Add(1)
			return 503, s.respondError(503, "no healthy upstream")
		}
		s.info.Endpoint = ep.Addr
		s.info.Attempts++
		var res result
		res, fail = s.exchange(cfg, rt, cl, ep, s.attempt(rt, cl, &b))
		pk.Done(outcome(res, fail))
		b.endRetry(cl)
		if fail == nil {
			if b.retryRefused && rt.Retry.RetriesStatus(res.status) {
				cl.Stats.RetryOverflow.Add(1)
			}
			if b.retriesOut(rt) && rt.Retry.RetriesStatus(res.status) {
				s.info.Flags |= stream.UpstreamRetryLimitExceeded
			}
			return res.status, res.keep
		}
		b.failed(ep, fail.kind)
		if !s.retry(rt, cl, fail, &b) {
			break
		}
		cl.Stats.RqRetry.Add(1)
	}
	if b.exhausted {
		s.info.Flags |= stream.UpstreamRetryLimitExceeded
	}
	return s.failUpstream(cl, fail)
}

// attemptOpts parameterize one attempt.
type attemptOpts struct {
	timeout     time.Duration // for the response; 0 for none
	deadline    time.Time     // the route's deadline over all tries, or zero
	retryStatus *route.Retry  // when set, a response it retries is not relayed
}

func (s *session) attempt(rt *route.Route, cl *cluster.Cluster, b *budget) attemptOpts {
	o := attemptOpts{deadline: b.deadline}
	if !b.deadline.IsZero() {
		o.timeout = max(time.Until(b.deadline), time.Millisecond)
	}
	if rt.Retry != nil && rt.Retry.PerTry > 0 && (o.timeout <= 0 || rt.Retry.PerTry < o.timeout) {
		o.timeout = rt.Retry.PerTry
	}
	// A response is held back for a retry only if the retry will be
	// allowed: the max_retries breaker is checked now, not after.
	b.retryRefused = false
	if b.retries > 0 && s.bodyless() {
		if b.retryRefused = cl.RetryOverloaded(); !b.retryRefused {
			o.retryStatus = rt.Retry
		}
	}
	return o
}

// retry decides whether a failed attempt is tried again, and spends the
// budget. Failed connects are redispatched to another endpoint up to
// maxConnectAttempts times whatever the policy (nothing was sent); a
// pooled connection found closed costs nothing.
func (s *session) retry(rt *route.Route, cl *cluster.Cluster, f *attemptError, b *budget) bool {
	p := rt.Retry
	switch f.kind {
	case failStale:
		return true
	case failConnect:
		b.dialFails++
		if b.dialFails < maxConnectAttempts {
			return true
		}
		return p != nil && p.RetriesConnect() && b.spend(cl)
	case failReset, failTimeout:
		return p != nil && p.RetriesReset() && s.bodyless() && b.spend(cl)
	case failStatus:
		return b.spend(cl)
	}
	return false
}

// bodyless reports whether the request has no body, so it can be sent
// again without having been buffered.
func (s *session) bodyless() bool { return s.head.length <= 0 && !s.head.chunked }

// failKind says how an attempt failed.
type failKind int

const (
	failConnect       failKind = iota // the dial failed: nothing was sent
	failStale                         // a pooled connection was closed before the request reached the application
	failReset                         // the upstream closed or reset before a complete response head
	failTimeout                       // no response head within the timeout
	failStatus                        // a response the retry policy retries (not relayed)
	failBadResponse                   // a response that breaks HTTP/1.1 framing
	failClient                        // the client's body was malformed or the client went away
	failClientTimeout                 // the client's body did not arrive in time
	failUpload                        // the upstream failed while the request body was sent to it
	failOverflow                      // a circuit breaker refused the attempt
	failRelay                         // the response failed after it started to reach the client
)

// attemptError is a failed attempt.
type attemptError struct {
	kind failKind
	err  error
}

func (a *attemptError) Error() string { return a.err.Error() }

// result is a completed exchange.
type result struct {
	status int
	keep   bool
}

// failUpstream answers the last failed attempt: 504 for a timeout, 400 for
// a malformed request body, 502 otherwise, or a bare close when the
// response had already started.
func (s *session) failUpstream(cl *cluster.Cluster, f *attemptError) (int, bool) {
	s.info.Flags |= failFlags(f)
	switch f.kind {
	case failRelay:
		return 502, false
	case failTimeout:
		cl.Stats.RqTimeout.Add(1)
		return 504, s.respondError(504, "upstream request timeout")
	case failConnect:
		return 502, s.respondError(502, "upstream connect error: "+f.err.Error())
	case failClient:
		s.head.close = true
		return 400, s.respondError(400, "malformed request body")
	case failOverflow:
		return 503, s.respondOverloaded("too many connections")
	case failClientTimeout:
		s.head.close = true
		return 408, s.respondError(408, "request body timeout")
	case failUpload:
		return s.failUpload(cl, f)
	case failBadResponse:
		return 502, s.respondError(502, "malformed response from upstream")
	}
	return 502, s.respondError(502, "upstream closed the connection before responding")
}

// respondOverloaded answers 503 for a circuit breaker, as Envoy does.
func (s *session) respondOverloaded(why string) bool {
	if s.out.pb == nil {
		s.out.acquire()
	}
	return s.respond(503, "upstream overflow: "+why+"\n", overloaded)
}

// dial returns a pooled connection to ep or a new one through the
// cluster's transport, and whether it was pooled. Only this package puts
// connections in endpoint pools, and only *upstream ones.
func dial(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (*upstream, bool, error) {
	if c := ep.Pool.Get(); c != nil {
		return c.(*upstream), true, nil
	}
	c, err := cl.Dial(ep, deadline)
	if err != nil {
		return nil, false, err
	}
	return newUpstream(c), false, nil
}

// outcome is what an attempt tells the balancer about its endpoint.
func outcome(res result, fail *attemptError) cluster.Outcome {
	o := cluster.Outcome{Status: res.status}
	if fail == nil {
		return o
	}
	switch fail.kind {
	case failConnect:
		o.Failure = cluster.ConnectFailure
	case failReset, failBadResponse, failUpload, failRelay:
		o.Failure = cluster.Reset
	case failTimeout:
		o.Failure = cluster.Timeout
		if fail.err == errDeadline { // waited for a connection slot
			o.Failure = cluster.LocalFailure
		}
	case failStatus: // a response the policy retries: the endpoint answered
	default: // failStale, failClient, failClientTimeout, failOverflow
		o.Failure = cluster.LocalFailure
	}
	return o
}
