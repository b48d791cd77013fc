// Package cluster holds the data plane's view of upstream clusters: their
// endpoints, the state that outlives configuration changes (per endpoint
// and per cluster), the upstream transports and connection pools, and the
// outcomes of picks.
package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// State is the mutable state of an upstream endpoint reached through one
// transport: load, counters and idle connections. It is keyed by (address,
// transport key) and shared by every snapshot that names both, so a
// configuration change never resets it, and connections made through one
// transport are never handed to a user of another. All fields are safe for
// concurrent use.
type State struct {
	Addr string
	// Transport makes the connections to Addr; nil means [Plain].
	Transport Transport
	// Inflight is the number of requests or connections in progress.
	Inflight atomic.Int64
	// Requests counts requests (or connections, for TCP) sent.
	Requests atomic.Uint64
	// ConnectFailures counts failed dials.
	ConnectFailures atomic.Uint64
	// Pool holds idle HTTP/1.1 connections to this address.
	Pool Pool
	// Latency is the peak-EWMA latency estimate of attempts on Addr.
	Latency EWMA
	// Added is when the registry first saw the endpoint (UnixNano), for
	// slow start.
	Added int64
	// Admin is the operator's runtime action on the address (an
	// [AdminState]), set through the admin API as HAProxy's "set server
	// state": kept across snapshots, it applies in every cluster that
	// reaches the address through this transport.
	Admin atomic.Uint32
}

// AdminState is an operator's runtime action on an endpoint.
type AdminState uint32

// Admin states: AdminReady takes traffic as configured; AdminDrain and
// AdminDisabled take no new requests or connections, those in progress
// finish (HAProxy's drain and maint).
const (
	AdminReady AdminState = iota
	AdminDrain
	AdminDisabled
)

// Endpoint is one upstream address as a snapshot sees it: configuration
// (weight, health, priority) plus a pointer to the shared [State].
// Endpoints are immutable once built.
type Endpoint struct {
	*State
	Weight   uint32
	Health   spec.HealthStatus
	Priority uint32
	// Locality and LocalityWeight are the endpoint's locality and its
	// load_balancing_weight, for locality-weighted balancing.
	Locality       string
	LocalityWeight uint32
	// Active is the endpoint's active health in its cluster, nil when the
	// cluster has no health check.
	Active *ActiveHealth
	// Outlier is the endpoint's ejection in its cluster, nil when the
	// cluster has no outlier detection.
	Outlier *Ejection
}

// Usable reports whether the endpoint may receive new traffic: its EDS
// health is healthy or degraded and it does not fail its active health
// check and is not ejected by outlier detection (any failing takes it
// out, as in Envoy), and no operator drained or disabled it.
func (e *Endpoint) Usable() bool {
	return (e.Health == spec.Healthy || e.Health == spec.Degraded) && (e.Active == nil || !e.Active.Failed()) &&
		(e.Outlier == nil || !e.Outlier.Ejected()) && e.State.Admin.Load() == uint32(AdminReady)
}

// Since returns when the endpoint last became available (UnixNano): when
// the registry first saw it or, with an active check, when it last passed
// after failing. Slow start counts from it.
func (e *Endpoint) Since() int64 {
	if e.Active != nil {
		return max(e.Added, e.Active.since.Load())
	}
	return e.Added
}

// Availability is how an endpoint may take traffic, as Envoy's host sets
// see it.
type Availability uint8

// Availabilities.
const (
	// Unavailable: EDS says unhealthy or draining, the active check fails,
	// or outlier detection ejected it. Only panic mode sends it traffic.
	Unavailable Availability = iota
	// Available: healthy.
	Available
	// DegradedOnly: EDS says degraded; used when healthy endpoints are not
	// enough.
	DegradedOnly
)

// Availability classifies the endpoint for balancing, from the same
// signals as [Endpoint.Usable].
func (e *Endpoint) Availability() Availability {
	if (e.Active != nil && e.Active.Failed()) || (e.Outlier != nil && e.Outlier.Ejected()) ||
		e.State.Admin.Load() != uint32(AdminReady) {
		return Unavailable
	}
	switch e.Health {
	case spec.Healthy:
		return Available
	case spec.Degraded:
		return DegradedOnly
	}
	return Unavailable
}

// transport returns the state's transport.
func (s *State) transport() Transport {
	if s.Transport == nil {
		return Plain
	}
	return s.Transport
}

// stateKey is what a [State] is keyed by.
type stateKey struct{ addr, transport string }

// Registry keeps what outlives configuration snapshots: endpoint [State] by
// (address, transport key) and cluster [Runtime] by name. It is used while
// building and publishing snapshots, never on the request path. Safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex
	m        map[stateKey]*State
	runtimes map[string]*Runtime
	restored *HAState // see RestoreHA
	// Idle bounds the idle pooled connections of all addresses together.
	Idle IdleBudget
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{m: map[stateKey]*State{}, runtimes: map[string]*Runtime{}}
}

// Get returns the state for addr reached through t (nil for [Plain]),
// creating it if needed.
func (r *Registry) Get(addr string, t Transport) *State {
	if t == nil {
		t = Plain
	}
	k := stateKey{addr, t.Key()}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.m[k]
	if !ok {
		s = &State{Addr: addr, Transport: t, Added: time.Now().UnixNano()}
		r.restoreLatency(s)
		s.Pool.shared = &r.Idle
		r.m[k] = s
	}
	return s
}

// Runtime returns the runtime of the cluster named name, creating it if
// needed.
func (r *Registry) Runtime(name string) *Runtime {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.runtimes[name]
	if !ok {
		rt = &Runtime{}
		r.restoreRuntime(name, rt)
		r.runtimes[name] = rt
	}
	return rt
}

// Retain forgets the endpoint states and runtimes that clusters do not use,
// and the active health of endpoints a cluster no longer has; it stops the
// forgotten runtimes' checkers and closes the forgotten states' idle
// connections. Requests in flight to
// a forgotten endpoint or cluster finish normally: they hold their own
// pointers.
func (r *Registry) Retain(clusters map[string]*Cluster) {
	used := map[*State]bool{}
	for _, c := range clusters {
		for _, e := range c.Endpoints {
			used[e.State] = true
		}
	}
	r.mu.Lock()
	var gone []*State
	for k, s := range r.m {
		if !used[s] {
			gone = append(gone, s)
			delete(r.m, k)
		}
	}
	var stopped []*Runtime
	for name, rt := range r.runtimes {
		if c := clusters[name]; c != nil {
			rt.RetainHealth(c)
			continue
		}
		delete(r.runtimes, name)
		stopped = append(stopped, rt)
	}
	r.mu.Unlock()
	for _, rt := range stopped {
		rt.stop()
	}
	for _, s := range gone {
		s.Pool.Close()
	}
}

// Forget forgets the given endpoint states and the runtimes of the named
// clusters (stopping their checkers), and closes the states' idle connections, as Retain does for
// what it does not keep; it costs what it forgets, not the registry's
// size.
func (r *Registry) Forget(states []*State, clusters []string) {
	if len(states)+len(clusters) == 0 {
		return
	}
	r.mu.Lock()
	for _, s := range states {
		k := stateKey{s.Addr, s.transport().Key()}
		if r.m[k] == s {
			delete(r.m, k)
		}
	}
	var stopped []*Runtime
	for _, name := range clusters {
		if rt := r.runtimes[name]; rt != nil {
			stopped = append(stopped, rt)
		}
		delete(r.runtimes, name)
	}
	r.mu.Unlock()
	for _, rt := range stopped {
		rt.stop()
	}
	for _, s := range states {
		s.Pool.Close()
	}
}

// Len returns the number of endpoint states.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// Close closes every idle connection of every endpoint.
func (r *Registry) Close() { r.Retain(nil) }

// reapEvery is how often [Registry.Reap] looks for connections idle past
// their pool's idle timeout; a connection may outlive its timeout by that
// much.
const reapEvery = 250 * time.Millisecond

// Reap closes pooled connections idle past their idle timeout until stop
// is closed. It must run on one goroutine, owned by the registry's user.
func (r *Registry) Reap(stop <-chan struct{}) {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for _, s := range r.states() {
				s.Pool.reap(now)
			}
		}
	}
}

// states returns every address's state.
func (r *Registry) states() []*State {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*State, 0, len(r.m))
	for _, s := range r.m {
		out = append(out, s)
	}
	return out
}
