// Package cluster holds the data plane's view of upstream clusters: their
// endpoints, the per-endpoint state that outlives configuration changes, and
// the upstream connection pools.
package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// State is the mutable, per-address state of an upstream endpoint: load,
// counters and idle connections. It is shared by every snapshot that names
// the address, so a configuration change never resets it. All fields are
// safe for concurrent use.
type State struct {
	Addr string
	// Inflight is the number of requests or connections in progress.
	Inflight atomic.Int64
	// Requests counts requests (or connections, for TCP) sent.
	Requests atomic.Uint64
	// ConnectFailures counts failed dials.
	ConnectFailures atomic.Uint64
	// Pool holds idle HTTP/1.1 connections to this address.
	Pool Pool
}

// Endpoint is one upstream address as a snapshot sees it: configuration
// (weight, health, priority) plus a pointer to the shared [State].
// Endpoints are immutable once built.
type Endpoint struct {
	*State
	Weight   uint32
	Health   spec.HealthStatus
	Priority uint32
}

// Usable reports whether the endpoint may receive new traffic.
func (e *Endpoint) Usable() bool {
	return e.Health == spec.Healthy || e.Health == spec.Degraded
}

// Registry maps addresses to their [State]. It is used while building
// snapshots, never on the request path. Safe for concurrent use.
type Registry struct {
	mu sync.Mutex
	m  map[string]*State
	// Idle bounds the idle pooled connections of all addresses together.
	Idle IdleBudget
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]*State{}} }

// Get returns the state for addr, creating it if needed.
func (r *Registry) Get(addr string) *State {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.m[addr]
	if !ok {
		s = &State{Addr: addr}
		s.Pool.shared = &r.Idle
		r.m[addr] = s
	}
	return s
}

// Retain forgets every address not in keep and closes its idle connections.
// Requests in flight to a forgotten address finish normally: they hold their
// own pointer to its state.
func (r *Registry) Retain(keep map[string]bool) {
	r.mu.Lock()
	var gone []*State
	for addr, s := range r.m {
		if !keep[addr] {
			gone = append(gone, s)
			delete(r.m, addr)
		}
	}
	r.mu.Unlock()
	for _, s := range gone {
		s.Pool.Close()
	}
}

// Close closes every idle connection of every address.
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
