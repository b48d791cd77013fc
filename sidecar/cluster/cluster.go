package cluster

import (
	"sync/atomic"
	"time"
)

// Picker chooses an endpoint for one request or connection. Pick must not
// block, do I/O, take locks or allocate; it returns nil when no endpoint is
// usable. hash is the request's hash for hashing policies; others ignore it.
// Pickers are safe for concurrent use.
type Picker interface {
	Pick(hash uint64) *Endpoint
}

// Stats are a cluster's counters, named after Envoy's cluster statistics.
// They are shared by every snapshot that has a cluster of this name.
type Stats struct {
	RqTotal       atomic.Uint64 // upstream_rq_total
	StatusCounts                // upstream_rq_2xx ... upstream_rq_5xx
	RqTimeout     atomic.Uint64 // upstream_rq_timeout
	RqRetry       atomic.Uint64 // upstream_rq_retry
	CxTotal       atomic.Uint64 // upstream_cx_total
	CxConnectFail atomic.Uint64 // upstream_cx_connect_fail
	CxActive      atomic.Int64  // upstream_cx_active
	RqActive      atomic.Int64  // upstream_rq_active
	NoHealthy     atomic.Uint64 // upstream_cx_none_healthy
	OverflowRq    atomic.Uint64 // upstream_rq_pending_overflow
}

// StatusCounts counts responses by status class. Safe for concurrent use.
type StatusCounts struct {
	Rq2xx, Rq3xx, Rq4xx, Rq5xx atomic.Uint64
}

// CountStatus adds one response of the given status to its class counter.
func (s *StatusCounts) CountStatus(code int) {
	switch code / 100 {
	case 2:
		s.Rq2xx.Add(1)
	case 3:
		s.Rq3xx.Add(1)
	case 4:
		s.Rq4xx.Add(1)
	case 5:
		s.Rq5xx.Add(1)
	}
}

// Cluster is one upstream cluster in one configuration snapshot. It is
// immutable; its Stats and its endpoints' State are shared across
// snapshots.
type Cluster struct {
	Name           string
	ConnectTimeout time.Duration
	// Endpoints lists every endpoint, usable or not, in configuration order.
	Endpoints []*Endpoint
	// Picker picks among the usable endpoints of the best priority.
	Picker Picker
	Stats  *Stats
	// MaxRequests bounds requests in flight (circuit breaker); 0 for none.
	MaxRequests int64
}

// Pick returns an endpoint for a new request, or nil.
func (c *Cluster) Pick(hash uint64) *Endpoint { return c.Picker.Pick(hash) }

// Overloaded reports whether the cluster's request circuit breaker is open.
func (c *Cluster) Overloaded() bool {
	return c.MaxRequests > 0 && c.Stats.RqActive.Load() >= c.MaxRequests
}
