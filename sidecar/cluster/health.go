package cluster

import (
	"sync/atomic"
	"time"
)

// ActiveHealth is the active health-check verdict on one endpoint of one
// cluster (Envoy's FAILED_ACTIVE_HC flag). It is kept in the cluster's
// [Runtime] by endpoint [State], so snapshots share it and a configuration
// change never resets it; two clusters checking the same address keep
// separate verdicts. A new one starts failing, as Envoy's new hosts do,
// until its first check passes. Safe for concurrent use.
type ActiveHealth struct {
	failed atomic.Bool
	since  atomic.Int64 // UnixNano of the last change to passing
}

// Failed reports whether the endpoint fails its active health check.
func (h *ActiveHealth) Failed() bool { return h.failed.Load() }

// SetFailed records the verdict and reports whether it changed.
func (h *ActiveHealth) SetFailed(failed bool) bool {
	changed := h.failed.Swap(failed) != failed
	if changed && !failed {
		h.since.Store(time.Now().UnixNano())
	}
	return changed
}

// HealthCheckStats are Envoy's cluster.<name>.health_check.* counters.
type HealthCheckStats struct {
	Attempt        atomic.Uint64
	Success        atomic.Uint64
	Failure        atomic.Uint64 // failed checks, network failures included
	NetworkFailure atomic.Uint64
	PassiveFailure atomic.Uint64 // never counted: no passive events
	VerifyCluster  atomic.Uint64 // never counted: no service name check
}

// Checker is per-cluster machinery that lives in the [Runtime] across
// snapshots: active health checking (sidecar/health).
type Checker interface {
	// Update follows the endpoints of c, the cluster's snapshot being
	// published. It is called under the sidecar's apply lock.
	Update(c *Cluster)
	// Close stops the checker and waits for its goroutines.
	Close()
}

// runtimeHealth is the health part of a [Runtime].
// Its fields are guarded by the runtime's mu, never taken on the request
// path.
type runtimeHealth struct {
	rebuild func() Picker
	active  map[*State]*ActiveHealth
	checker Checker
	// ejections and detector are outlier detection's (outlier.go).
	ejections map[*State]*Ejection
	detector  Checker
	// restored is the persisted state of the cluster's endpoints by
	// address, used when their verdicts are first made (hastate.go).
	restored map[string]EndpointHA
	until    time.Time // restored is ignored after
}

// ActiveHealth returns the active health of the endpoint with state s,
// creating it failing.
func (r *Runtime) ActiveHealth(s *State) *ActiveHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.h.active[s]
	if !ok {
		if r.h.active == nil {
			r.h.active = map[*State]*ActiveHealth{}
		}
		h = &ActiveHealth{}
		h.failed.Store(true)
		r.restoreActive(s, h)
		r.h.active[s] = h
	}
	return h
}

// InstallFunc puts build() in force as [Runtime.Install] does, and keeps
// build to build the picker again on [Runtime.Rebuild].
func (r *Runtime) InstallFunc(build func() Picker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.rebuild = build
	r.install(build())
}

// Rebuild builds and installs the picker again with the function given to
// the last InstallFunc, so it sees endpoints' health changed since; it
// does nothing after a plain Install. The runtime's followers
// ([Runtime.SetFollowers]) are rebuilt after it.
func (r *Runtime) Rebuild() {
	r.rebuildOnly()
	r.rebuildFollowers()
}

// rebuildOnly is Rebuild without the followers.
func (r *Runtime) rebuildOnly() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h.rebuild != nil {
		r.install(r.h.rebuild())
	}
}

// Checker returns the checker attached to the runtime, or nil.
func (r *Runtime) Checker() Checker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h.checker
}

// SetChecker attaches c (nil for none), closing the checker it replaces.
func (r *Runtime) SetChecker(c Checker) { r.replace(&r.h.checker, c) }

// replace stores c in *slot under r.mu, then closes what it held, unless
// that is c itself. Closing happens outside the lock: it joins goroutines
// that may call back into r.
func (r *Runtime) replace(slot *Checker, c Checker) {
	r.mu.Lock()
	old := *slot
	*slot = c
	r.mu.Unlock()
	if old != nil && old != c {
		old.Close()
	}
}

// RetainHealth forgets the active health and ejections of endpoints c no
// longer has, or all of them when c has no health check or no outlier
// detection.
func (r *Runtime) RetainHealth(c *Cluster) {
	keep := map[*State]bool{}
	for _, e := range c.Endpoints {
		keep[e.State] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.h.active {
		if !keep[s] || c.HealthCheck == nil {
			delete(r.h.active, s)
		}
	}
	for s := range r.h.ejections {
		if !keep[s] || c.Outlier == nil {
			delete(r.h.ejections, s)
		}
	}
}
