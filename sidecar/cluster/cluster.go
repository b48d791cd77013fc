package cluster

import (
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// Picker chooses an endpoint for one request or connection. Pick must not
// block, do I/O, take locks or allocate; it returns nil when no endpoint is
// usable. hash is the request's hash for hashing policies; others ignore it.
// Pickers are safe for concurrent use.
type Picker interface {
	Pick(hash uint64) *Endpoint
}

// LevelSkipper is implemented by the pickers of clusters with several
// priority levels. PickSkipping picks as Pick would if the levels whose
// priority p has bit p set in skip had no available endpoint (Envoy's
// previous_priorities retry priority; priorities over 63 are never
// skipped); when that leaves none it picks as Pick. Same contract as Pick.
type LevelSkipper interface {
	PickSkipping(hash, skip uint64) *Endpoint
	// SkipsAll reports whether skip leaves no level with an available
	// endpoint, so that PickSkipping picks as Pick.
	SkipsAll(skip uint64) bool
}

// PanicReporter is implemented by pickers that balance some priority
// levels in panic mode (over all their endpoints, healthy or not).
// PanicLevels has bit p set for each such priority p (below 64); it is
// fixed for the picker's life.
type PanicReporter interface {
	PanicLevels() uint64
}

// Stats are a cluster's counters, named after Envoy's cluster statistics,
// and the counts its circuit breakers check. They are shared by every
// snapshot that has a cluster of this name, so a configuration change
// never resets them.
type Stats struct {
	RqTotal       atomic.Uint64 // upstream_rq_total
	StatusCounts                // upstream_rq_2xx ... upstream_rq_5xx
	RqTimeout     atomic.Uint64 // upstream_rq_timeout
	RqRetry       atomic.Uint64 // upstream_rq_retry
	CxTotal       atomic.Uint64 // upstream_cx_total
	CxConnectFail atomic.Uint64 // upstream_cx_connect_fail
	// CxActive counts the open upstream connections this cluster dialed,
	// busy or idle in a pool (upstream_cx_active).
	CxActive atomic.Int64
	// Cx counts the upstream connections carrying a request or a TCP
	// relay, for max_connections.
	Cx          Slots
	RqActive    atomic.Int64  // upstream_rq_active
	RqPending   atomic.Int64  // upstream_rq_pending_active
	RetryActive atomic.Int64  // retries in flight, for max_retries
	NoHealthy   atomic.Uint64 // upstream_cx_none_healthy
	// HealthyPanic counts the picks made at a priority level in panic
	// mode (lb_healthy_panic).
	HealthyPanic  atomic.Uint64
	OverflowRq    atomic.Uint64 // upstream_rq_pending_overflow (max_requests, max_pending_requests)
	CxOverflow    atomic.Uint64 // upstream_cx_overflow (max_connections)
	RetryOverflow atomic.Uint64 // upstream_rq_retry_overflow (max_retries)
	HealthCheck   HealthCheckStats
	Outlier       OutlierStats
	Zone          ZoneStats
	RqTime        stats.Histogram // upstream_rq_time, ms
	CxConnectMs   stats.Histogram // upstream_cx_connect_ms
}

// StatusCounts counts responses by status class and code (Envoy's
// upstream_rq_2xx and upstream_rq_200). Safe for concurrent use.
type StatusCounts = stats.Status

// Cluster is one upstream cluster in one configuration snapshot. It is
// immutable; its Stats, Runtime and its endpoints' State are shared across
// snapshots.
type Cluster struct {
	Name           string
	ConnectTimeout time.Duration
	// Endpoints lists every endpoint, usable or not, in configuration order.
	Endpoints []*Endpoint
	// Picker picks among the endpoints by priority level, availability
	// and policy (sidecar/balancer). It is installed in Runtime when the
	// snapshot is published.
	Picker Picker
	// Runtime is the cluster's state across snapshots; picks use its
	// picker once one is installed. Nil: picks use Picker.
	Runtime *Runtime
	// Transport makes the connections to the endpoints, whose states are
	// keyed by it; nil means [Plain].
	Transport Transport
	Stats     *Stats
	// Limits are the circuit-breaker thresholds.
	Limits Limits
	// IdleTimeout closes pooled connections idle that long; 0 for never.
	IdleTimeout time.Duration
	// HTTP is the protocol of upstream HTTP connections and its limits.
	HTTP spec.UpstreamHTTP
	// HealthCheck is the cluster's active health check, or nil; its
	// endpoints then have Active set.
	HealthCheck *spec.HealthCheck
	// Outlier is the cluster's outlier detection, or nil; its endpoints
	// then have Outlier set.
	Outlier *spec.OutlierDetection
	// Zone, when set, has the picker route zone aware: the node's
	// locality and the local cluster (cluster_manager.local_cluster_name).
	Zone *Zone
	// Rebuild, when set, builds Picker again over the endpoints' current
	// active health and ejections; it is installed with
	// [Runtime.InstallFunc].
	Rebuild func() Picker
}

// Pick picks an endpoint for an attempt with the picker in force (the
// Runtime's, else the snapshot's). The result's Endpoint is nil when none
// is usable. Pick does not block or allocate.
func (c *Cluster) Pick(hash uint64) Pick { return c.PickSkipping(hash, 0) }

// PickSkipping is Pick skipping the priority levels in skip (see
// [LevelSkipper]); a picker over one level ignores skip.
func (c *Cluster) PickSkipping(hash, skip uint64) Pick {
	var in *installed
	if c.Runtime != nil {
		in = c.Runtime.cur.Load()
	}
	p, obs := c.Picker, Observer(nil)
	if in != nil {
		p, obs = in.picker, in.obs
	} else {
		obs, _ = p.(Observer)
	}
	pk := Pick{obs: obs}
	if skip != 0 {
		if s, ok := p.(LevelSkipper); ok {
			pk.Endpoint = s.PickSkipping(hash, skip)
		}
	}
	if pk.Endpoint == nil {
		pk.Endpoint = p.Pick(hash)
	}
	if in != nil && in.panic != 0 && pk.Endpoint != nil && pk.Endpoint.Priority < 64 &&
		in.panic&(1<<pk.Endpoint.Priority) != 0 {
		c.Stats.HealthyPanic.Add(1)
	}
	if obs != nil {
		pk.start = time.Now()
	}
	return pk
}

// SkipsAll reports whether skipping the priority levels in skip leaves
// none of the cluster's levels available (see [LevelSkipper]); false for
// a picker over one level, which ignores skip.
func (c *Cluster) SkipsAll(skip uint64) bool {
	p := c.Picker
	if c.Runtime != nil {
		if in := c.Runtime.cur.Load(); in != nil {
			p = in.picker
		}
	}
	s, ok := p.(LevelSkipper)
	return ok && skip != 0 && s.SkipsAll(skip)
}

// Overloaded reports whether the cluster's max_requests circuit breaker is
// open.
func (c *Cluster) Overloaded() bool { return over(c.Stats.RqActive.Load(), c.Limits.MaxRequests) }

// RetryOverloaded reports whether the max_retries circuit breaker, or the
// retry budget that replaces it, is open.
func (c *Cluster) RetryOverloaded() bool {
	return over(c.Stats.RetryActive.Load(), c.RetryLimit())
}
