package balancer

import (
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// RoundRobin is the name of the weighted round-robin policy.
const RoundRobin = "round_robin"

func init() { Register(roundRobinBuilder{}) }

type roundRobinBuilder struct{}

func (roundRobinBuilder) Name() string { return RoundRobin }

// maxSchedule bounds the precomputed weighted schedule; beyond it the
// policy falls back to weighted random, which has the same long-run split.
const maxSchedule = 1 << 14

// Build precomputes a smooth weighted round-robin schedule (nginx's
// algorithm: no endpoint gets a burst), so Pick is one atomic add and one
// index.
func (roundRobinBuilder) Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	return withSlowStart(cfg, endpoints, buildRoundRobin(endpoints))
}

func buildRoundRobin(endpoints []*cluster.Endpoint) cluster.Picker {
	if equalWeights(endpoints) {
		return &roundRobin{schedule: endpoints}
	}
	total := 0
	for _, e := range endpoints {
		total += int(e.Weight)
	}
	if total > maxSchedule {
		return newWeightedRandom(endpoints)
	}
	return &roundRobin{schedule: smoothSchedule(endpoints, total)}
}

func smoothSchedule(endpoints []*cluster.Endpoint, total int) []*cluster.Endpoint {
	current := make([]int, len(endpoints))
	out := make([]*cluster.Endpoint, 0, total)
	for range total {
		best := 0
		for i, e := range endpoints {
			current[i] += int(e.Weight)
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out = append(out, endpoints[best])
	}
	return out
}

type roundRobin struct {
	next     atomic.Uint64
	schedule []*cluster.Endpoint
}

var _ cluster.Picker = (*roundRobin)(nil)

func (r *roundRobin) Pick(uint64) *cluster.Endpoint {
	n := r.next.Add(1) - 1
	return r.schedule[n%uint64(len(r.schedule))]
}
