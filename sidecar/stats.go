package sidecar

import (
	"sync"

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
}

func newStatsRegistry() *statsRegistry {
	return &statsRegistry{clusters: map[string]*cluster.Stats{}, https: map[string]*l7.Stats{}, tcps: map[string]*l4.Stats{}}
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
