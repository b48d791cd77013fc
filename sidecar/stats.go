package sidecar

import (
	"sync"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/l4"
	"github.com/meshlb/meshlb/sidecar/l7"
)

// statsRegistry keeps statistics by name across snapshots, as Envoy keeps
// its stats store across configuration updates.
type statsRegistry struct {
	mu       sync.Mutex
	clusters map[string]*cluster.Stats
	https    map[string]*l7.Stats
	tcps     map[string]*l4.Stats
	counters map[string]*atomic.Uint64 // by Envoy's full stat name
}

func newStatsRegistry() *statsRegistry {
	return &statsRegistry{clusters: map[string]*cluster.Stats{}, https: map[string]*l7.Stats{}, tcps: map[string]*l4.Stats{}, counters: map[string]*atomic.Uint64{}}
}

func getOrNew[T any](mu *sync.Mutex, m map[string]*T, name string) *T {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[name]
	if !ok {
		v = new(T)
		m[name] = v
	}
	return v
}

func (r *statsRegistry) cluster(name string) *cluster.Stats {
	return getOrNew(&r.mu, r.clusters, name)
}

func (r *statsRegistry) http(prefix string) *l7.Stats { return getOrNew(&r.mu, r.https, prefix) }

func (r *statsRegistry) tcp(prefix string) *l4.Stats { return getOrNew(&r.mu, r.tcps, prefix) }

// counter returns the counter named name (Envoy's full stat name, such as
// "local_ratelimit.in.rate_limited"), created at zero on first use.
func (r *statsRegistry) counter(name string) *atomic.Uint64 {
	return getOrNew(&r.mu, r.counters, name)
}

func (r *statsRegistry) counterValues() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]uint64, len(r.counters))
	for name, c := range r.counters {
		out[name] = c.Load()
	}
	return out
}
