package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Slots counts the use of one shared resource (connections to a cluster)
// against a limit that each caller passes, and lets a caller wait for a
// slot. The zero value is ready to use. Safe for concurrent use; Acquire
// and Release never block or allocate, Wait allocates its timer.
type Slots struct {
	active  atomic.Int64
	waiters atomic.Int64
	mu      sync.Mutex
	wake    chan struct{} // closed and cleared by Release when waiters wait
}

// Active returns the number of slots in use.
func (s *Slots) Active() int64 { return s.active.Load() }

// Acquire takes a slot if fewer than limit are in use and reports whether
// it did. A limit of 0 means none; a negative limit allows no slot.
func (s *Slots) Acquire(limit int64) bool {
	for {
		n := s.active.Load()
		if limit != 0 && n >= limit {
			return false
		}
		if s.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release returns a slot taken by Acquire or Wait, waking the waiters.
func (s *Slots) Release() {
	s.active.Add(-1)
	if s.waiters.Load() == 0 {
		return
	}
	s.mu.Lock()
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	s.mu.Unlock()
}

// Wait takes a slot, waiting for one until deadline, and reports whether
// it did.
func (s *Slots) Wait(limit int64, deadline time.Time) bool {
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		s.mu.Lock()
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		// Checked after taking wake: a Release from now on closes it.
		if s.Acquire(limit) {
			return true
		}
		select {
		case <-wake:
		case <-t.C:
			return false
		}
	}
}

// Limits are a cluster's circuit-breaker thresholds, as Envoy's
// circuit_breakers.thresholds for the default priority. 0 means no limit;
// a negative value allows nothing (Envoy's explicit 0).
type Limits struct {
	// MaxConnections bounds the upstream connections carrying a request
	// (idle pooled connections are bounded per endpoint instead).
	MaxConnections int64
	// MaxPending bounds the requests waiting for a connection when
	// MaxConnections is reached.
	MaxPending int64
	// MaxRequests bounds the requests in flight.
	MaxRequests int64
	// MaxRetries bounds the retries in flight.
	MaxRetries int64
	// RetryBudget, when set, bounds the retries in flight instead of
	// MaxRetries (Envoy's retry_budget).
	RetryBudget *spec.RetryBudget
}

// RetryLimit returns the bound on the retries in flight, as [over] takes
// it: MaxRetries, or with a retry budget its percentage of the requests
// active and pending, and at least its minimum (a budget of 0 allows none).
func (c *Cluster) RetryLimit() int64 {
	b := c.Limits.RetryBudget
	if b == nil {
		return c.Limits.MaxRetries
	}
	active := c.Stats.RqActive.Load() + c.Stats.RqPending.Load()
	if n := max(int64(b.Percent/100*float64(active)), int64(b.MinConcurrency)); n > 0 {
		return n
	}
	return -1
}

// over reports whether n in use reaches limit.
func over(n, limit int64) bool { return limit != 0 && n >= limit }
