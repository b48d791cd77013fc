package forward

import (
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// maxConnectAttempts bounds the endpoints tried for one request when dials
// fail (HAProxy's "retries" with "option redispatch"): a connection that
// was never made cannot have delivered the request.
const maxConnectAttempts = 3

// forwarder serves one request of a [Stream]: route, HTTP filters, pick,
// retries and the upstream exchange. It lives on the stack of serve and
// sees the request only through the Stream.
type forwarder struct {
	cfg  *Config
	st   Stream
	ss   *StreamState
	info *stream.Info
	cl   *cluster.Cluster // the cluster forwarded to; nil: none
	// replay keeps the request body for retries (replay.go); nil when
	// bodies are not retried.
	replay *replayBody
	rt     *route.Route // the matched route, nil before or without a match
}

// Serve routes and answers the request of st, recording its stream info.
// It reports whether the connection may carry another request.
func Serve(cfg *Config, st Stream) bool {
	ss := st.State()
	f := forwarder{cfg: cfg, st: st, ss: ss, info: &ss.Info}
	now := time.Now()
	*f.info = stream.Info{Listener: cfg.Listener, Start: now}
	ss.Now = now
	f.describe()
	keep := f.dispatch()
	f.finish()
	return keep
}

// dispatch routes and answers the request.
func (f *forwarder) dispatch() bool {
	cfg := f.cfg
	cfg.Stats.RqTotal.Add(1)
	if cfg.NormalizePath || cfg.MergeSlashes {
		req := f.st.Request()
		req.Path = NormalizePath(req.Path, cfg.NormalizePath, cfg.MergeSlashes)
	}
	f.clientCert()
	f.requestID()
	rt := cfg.Routes.Match(f.st.Request())
	f.rt = rt
	if rt != nil {
		f.info.Route = rt.Name
	}
	if fr := f.st.Framing(); fr.Upgrade && !spec.UpgradeAllowed(fr.UpgradeType, cfg.Upgrades, routeUpgrades(rt)) {
		// Envoy refuses the upgrade before any filter runs (upgrade_failed).
		return f.local(403, "")
	}
	done, keep := f.filterRequest(rt)
	f.captureRequest()
	if done {
		return keep
	}
	switch {
	case rt == nil:
		f.info.Flags |= stream.NoRouteFound
		return f.local(404, "no route matched the request\n")
	case rt.Direct != nil:
		return f.local(rt.Direct.Status, rt.Direct.Body)
	case rt.Redirect != nil:
		return f.redirect(rt)
	}
	cl := rt.Pick().Cluster
	switch {
	case cl == nil:
		f.info.Flags |= stream.NoClusterFound
		return f.local(503, "cluster not found\n")
	case cl.Overloaded():
		f.info.Cluster = cl.Name
		f.info.Flags |= stream.UpstreamOverflow
		cl.Stats.OverflowRq.Add(1)
		cfg.Stats.CountStatus(503)
		return f.respondOverloaded("too many requests in flight")
	}
	f.info.Cluster = cl.Name
	cl.Stats.RqTotal.Add(1)
	cl.Stats.RqActive.Add(1)
	defer cl.Stats.RqActive.Add(-1)
	f.cl = cl
	f.ss.filters.stream.Cluster = cl.Name
	f.tapRequest()
	code, keep := f.forward(rt, cl)
	cl.Stats.CountStatus(code)
	cfg.Stats.CountStatus(code)
	return keep
}

// clock returns the stream's clock reading if it is fresh, else reads the
// clock and records the reading ([StreamState.Now]).
func (f *forwarder) clock() time.Time {
	if f.ss.Now.IsZero() {
		f.ss.Now = time.Now()
	}
	return f.ss.Now
}

// blocked marks the stream's clock reading stale: something that can
// block ran since it was taken.
func (f *forwarder) blocked() { f.ss.Now = time.Time{} }

// local answers the request without an upstream.
func (f *forwarder) local(code int, body string) bool {
	f.cfg.Stats.CountStatus(code)
	return f.st.Reply(LocalReply{Code: code, Body: body})
}

// respondError answers with an error status and a one-line body.
func (f *forwarder) respondError(code int, msg string) bool {
	return f.st.Reply(LocalReply{Code: code, Body: msg + "\n"})
}

// redirect answers with the route's redirect.
func (f *forwarder) redirect(rt *route.Route) bool {
	rd := rt.Redirect
	loc := Location(rd, f.st.Request())
	f.cfg.Stats.CountStatus(rd.Status)
	return f.st.Reply(LocalReply{Code: rd.Status, Headers: []string{"location: " + loc}})
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
func (f *forwarder) forward(rt *route.Route, cl *cluster.Cluster) (int, bool) {
	f.prepare(rt)
	b := newBudget(rt, f.st.Request(), f.info.Start)
	defer b.endRetry(cl)
	f.replayable(rt, cl)
	hash := f.hash(rt)
	var fail *attemptError
	for i := range maxAttempts {
		if i > 0 {
			f.blocked() // by the last try
			if b.expired(f.clock()) {
				fail = &attemptError{failTimeout, errDeadline}
				break
			}
		}
		pk := b.pick(cl, rt, hash)
		ep := pk.Endpoint
		if ep == nil {
			f.info.Flags |= stream.NoHealthyUpstream
			cl.Stats.NoHealthy.Add(1)
			return 503, f.respondError(503, "no healthy upstream")
		}
		f.info.Endpoint = ep.Addr
		f.info.Attempts++
		var res result
		res, fail = f.exchange(rt, cl, ep, f.attempt(rt, cl, &b))
		pk.Done(outcome(res, fail))
		if fail != nil && fail.kind == failStatus {
			// Envoy counts every upstream response, the retried ones too.
			cl.Stats.RqTotal.Add(1)
			cl.Stats.CountStatus(res.status)
		}
		b.endRetry(cl)
		if fail == nil {
			f.noteSuccess(rt, cl, &b, res.status)
			return res.status, res.keep
		}
		b.failed(rt, ep, fail.kind)
		if !f.retry(rt, cl, fail, &b) {
			break
		}
		cl.Stats.RqRetry.Add(1)
	}
	if b.exhausted {
		f.info.Flags |= stream.UpstreamRetryLimitExceeded
	}
	return f.failUpstream(cl, fail)
}

// noteSuccess counts a relayed response the retry policy would have
// retried: refused by the max_retries breaker, or with retries spent.
func (f *forwarder) noteSuccess(rt *route.Route, cl *cluster.Cluster, b *budget, status int) {
	if b.retryRefused && rt.Retry.RetriesStatus(status) {
		cl.Stats.RetryOverflow.Add(1)
	}
	if b.retriesOut(rt) && rt.Retry.RetriesStatus(status) {
		f.info.Flags |= stream.UpstreamRetryLimitExceeded
	}
}

// attemptOpts parameterize one attempt.
type attemptOpts struct {
	timeout     time.Duration // for the response; 0 for none
	deadline    time.Time     // the route's deadline over all tries, or zero
	retryStatus *route.Retry  // when set, a response it retries is not relayed
	idle        time.Duration // bounds each wait on the upstream; 0 for none
}

// streamIdle is the idle bound of the waits on rt's upstream: the
// route's idle_timeout when it has one, else the stream idle timeout.
func (f *forwarder) streamIdle(rt *route.Route) time.Duration {
	if rt.IdleTimeout != nil {
		return *rt.IdleTimeout
	}
	return f.cfg.StreamIdle
}

func (f *forwarder) attempt(rt *route.Route, cl *cluster.Cluster, b *budget) attemptOpts {
	o := attemptOpts{deadline: b.deadline, idle: f.streamIdle(rt)}
	if !b.deadline.IsZero() {
		o.timeout = max(b.deadline.Sub(f.clock()), time.Millisecond)
	}
	if rt.Retry != nil && rt.Retry.PerTry > 0 && (o.timeout <= 0 || rt.Retry.PerTry < o.timeout) {
		o.timeout = rt.Retry.PerTry
	}
	// A response is held back for a retry only if the retry will be
	// allowed: the max_retries breaker is checked now, not after.
	b.retryRefused = false
	if b.retries > 0 && (!f.st.Framing().HasBody || f.replay != nil) {
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
func (f *forwarder) retry(rt *route.Route, cl *cluster.Cluster, fail *attemptError, b *budget) bool {
	p := rt.Retry
	switch fail.kind {
	case failStale:
		return true
	case failConnect:
		b.dialFails++
		if b.dialFails < maxConnectAttempts {
			return true
		}
		return p != nil && p.RetriesConnect() && b.spend(cl)
	case failReset, failTimeout:
		return p != nil && p.RetriesReset() && f.bodyRetryable() && b.spend(cl)
	case failStatus:
		return f.bodyRetryable() && b.spend(cl)
	}
	return false
}

// routeUpgrades is rt's upgrade_configs; rt may be nil.
func routeUpgrades(rt *route.Route) []spec.Upgrade {
	if rt == nil {
		return nil
	}
	return rt.Upgrades
}
