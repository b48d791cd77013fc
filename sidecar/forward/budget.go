package forward

import (
	"errors"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
)

// errDeadline is the failure of a request whose route timeout expired
// before another try could start.
var errDeadline = errors.New("route timeout expired")

// maxTried bounds the endpoints a request remembers having tried; it is
// maxAttempts, so none is forgotten.
const maxTried = maxAttempts

// redispatchPicks bounds how many times a redispatch asks the balancer
// again for an endpoint not yet tried, before it looks for one itself.
const redispatchPicks = 3

// budget is what one request has left for retries, and which endpoints it
// has tried. It lives on the stack: no allocation per request.
type budget struct {
	deadline  time.Time // the route timeout over all tries; zero for none
	retries   int       // left under the route's retry policy
	dialFails int
	retrying  bool // the attempt in progress is a retry (max_retries)
	// retryRefused: the max_retries breaker was open when the attempt
	// started, so a response the policy retries is relayed instead.
	retryRefused bool
	lastFail     failKind
	// exhausted: a retry the policy allows was refused because the
	// route's retries had run out (URX).
	exhausted bool
	tried     [maxTried]*cluster.State
	ntried    int
	// attempts counts the failed attempts, prios has bit p set for each
	// priority p they were made at, and skip is the priorities the
	// route's retry priority skips (prios as of the last multiple of its
	// update frequency).
	attempts    int
	prios, skip uint64
}

func newBudget(rt *route.Route, req *route.Request, now time.Time) budget {
	b := budget{}
	if t := rt.RequestTimeout(req); t > 0 {
		b.deadline = now.Add(t)
	}
	if rt.Retry != nil {
		b.retries = rt.Retry.NumRetries
	}
	return b
}

// expired reports whether the route timeout has passed.
func (b *budget) expired(now time.Time) bool {
	return !b.deadline.IsZero() && !now.Before(b.deadline)
}

// failed records an attempt on ep that failed as kind. A pooled connection
// found closed says nothing about the endpoint, so it is not remembered.
func (b *budget) failed(rt *route.Route, ep *cluster.Endpoint, kind failKind) {
	b.lastFail = kind
	if kind == failStale {
		return
	}
	b.attemptedPriority(rt, ep.Priority)
	if b.hasTried(ep.State) || b.ntried == len(b.tried) {
		return
	}
	b.tried[b.ntried] = ep.State
	b.ntried++
}

// attemptedPriority records an attempt at priority prio for the route's
// previous_priorities retry priority: after every update-frequency
// attempts, the priorities tried so far are skipped (Envoy's
// PreviousPrioritiesRetryPriority::determinePriorityLoad).
func (b *budget) attemptedPriority(rt *route.Route, prio uint32) {
	if rt.Retry == nil || rt.Retry.PriorityEvery <= 0 {
		return
	}
	b.attempts++
	if prio < 64 {
		b.prios |= 1 << prio
	}
	if b.attempts%rt.Retry.PriorityEvery == 0 {
		b.skip = b.prios
	}
}

func (b *budget) hasTried(st *cluster.State) bool {
	for _, t := range b.tried[:b.ntried] {
		if t == st {
			return true
		}
	}
	return false
}

// pick chooses the endpoint of the next attempt. After a failed connect it
// prefers endpoints not yet tried (Envoy's previous_hosts predicate, on by
// default for redispatch, as HAProxy's option redispatch); after other
// failures it does so when the route's retry policy names the predicate,
// asking the balancer again up to host_selection_retry_max_attempts times.
// hash is the request's hash (route.Route.Hash) for hashing balancers.
// Picks it does not return are not attempts: they get no Done.
func (b *budget) pick(cl *cluster.Cluster, rt *route.Route, hash uint64) cluster.Pick {
	if b.skip != 0 && cl.SkipsAll(b.skip) {
		// Every level with available endpoints was tried: the retry
		// priority forgets the attempts and starts over, as Envoy's
		// adjustForAttemptedPriorities.
		b.attempts, b.prios, b.skip = 0, 0, 0
	}
	pk := cl.PickSkipping(hash, b.skip)
	if b.ntried == 0 || pk.Endpoint == nil {
		return pk
	}
	redispatch := b.lastFail == failConnect
	picks := 0
	switch {
	case redispatch:
		picks = redispatchPicks
	case rt.Retry != nil && rt.Retry.PreviousHosts:
		picks = rt.Retry.HostAttempts
	}
	for i := 0; i < picks && pk.Endpoint != nil && b.hasTried(pk.Endpoint.State); i++ {
		pk = cl.PickSkipping(rehash(hash, i+1), b.skip)
	}
	if redispatch && pk.Endpoint != nil && b.hasTried(pk.Endpoint.State) {
		pk.Endpoint = b.untried(cl, pk.Endpoint)
	}
	return pk
}

// rehash returns the hash for the nth pick again of a request with hash
// h: another point of a hashing balancer, the same for every request with
// h (Envoy moves along its ring by attempt instead). 0 stays 0 (random).
func rehash(h uint64, n int) uint64 {
	if h == 0 {
		return 0
	}
	if h += uint64(n) * 0x9e3779b97f4a7c15; h == 0 {
		h = 1
	}
	return h
}

// untried returns a usable endpoint that the request has not tried: of
// ep's priority, else of the nearest priority after it (every endpoint of
// a level refused the connection before health checks noticed: the
// backups take the request, as HAProxy redispatches to its backup
// servers), or ep if there is none.
func (b *budget) untried(cl *cluster.Cluster, ep *cluster.Endpoint) *cluster.Endpoint {
	var next *cluster.Endpoint
	for _, e := range cl.Endpoints {
		switch {
		case !e.Usable() || b.hasTried(e.State) || e.Priority < ep.Priority:
		case e.Priority == ep.Priority:
			return e
		case next == nil || e.Priority < next.Priority:
			next = e
		}
	}
	if next != nil {
		return next
	}
	return ep
}

// spend takes one retry from the route's policy, unless none is left, the
// route timeout has passed, or the cluster's max_retries circuit breaker
// is open (counted in upstream_rq_retry_overflow).
func (b *budget) spend(cl *cluster.Cluster) bool {
	if b.retries <= 0 {
		b.exhausted = true
		return false
	}
	if b.expired(time.Now()) {
		return false
	}
	if b.lastFail != failStatus && cl.RetryOverloaded() {
		cl.Stats.RetryOverflow.Add(1)
		return false
	}
	b.retries--
	b.retrying = true
	cl.Stats.RetryActive.Add(1)
	return true
}

// retriesOut reports whether rt's policy had retries and all are spent.
func (b *budget) retriesOut(rt *route.Route) bool {
	return rt.Retry != nil && rt.Retry.NumRetries > 0 && b.retries == 0
}

// endRetry ends the retry in flight, if any, for max_retries.
func (b *budget) endRetry(cl *cluster.Cluster) {
	if b.retrying {
		b.retrying = false
		cl.Stats.RetryActive.Add(-1)
	}
}
