package balancer

import (
	"math/rand/v2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// LeastRequest is the name of the least-request policy.
const LeastRequest = "least_request"

// Envoy's least_request_lb_config defaults.
const (
	defaultChoiceCount = 2
	defaultBias        = 1.0
)

func init() { Register(leastRequestBuilder{}) }

type leastRequestBuilder struct{}

func (leastRequestBuilder) Name() string { return LeastRequest }

// Build returns Envoy's least-request policy: of choice_count candidate
// endpoints, the one with the fewest requests in flight wins (the first
// on a tie). With equal weights candidates are drawn uniformly, as Envoy.
// With unequal weights they are drawn in proportion to weight, so an idle
// cluster splits by weight as Envoy's weight / (in flight + 1)^bias
// scheduler does, and load moves traffic to less busy endpoints; there a
// positive active_request_bias only switches load-awareness on (its
// magnitude does not scale it, unlike Envoy), and a bias of 0 turns it
// off: weighted round robin, as Envoy.
func (leastRequestBuilder) Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	choices, bias := uint32(defaultChoiceCount), defaultBias
	if lr := cfg.LeastRequest; lr != nil {
		if lr.ChoiceCount > 0 {
			choices = lr.ChoiceCount
		}
		if lr.BiasSet {
			bias = lr.ActiveRequestBias
		}
	}
	l := &leastRequest{endpoints: endpoints, choices: int(choices)}
	if !equalWeights(endpoints) {
		if bias == 0 {
			return withSlowStart(cfg, endpoints, buildRoundRobin(endpoints))
		}
		l.weighted = newWeightedRandom(endpoints)
	}
	return withSlowStart(cfg, endpoints, l)
}

// leastRequest is the power of choice_count random choices.
type leastRequest struct {
	endpoints []*cluster.Endpoint
	choices   int
	weighted  *weightedRandom // nil: equal weights, uniform candidates
}

var _ cluster.Picker = (*leastRequest)(nil)

func (l *leastRequest) Pick(uint64) *cluster.Endpoint {
	if len(l.endpoints) == 1 {
		return l.endpoints[0]
	}
	best := l.candidate()
	for range l.choices - 1 {
		if c := l.candidate(); l.less(c, best) {
			best = c
		}
	}
	return best
}

func (l *leastRequest) candidate() *cluster.Endpoint {
	if l.weighted != nil {
		return l.weighted.Pick(0)
	}
	return l.endpoints[rand.IntN(len(l.endpoints))]
}

// less reports whether a has fewer requests in flight than b.
func (l *leastRequest) less(a, b *cluster.Endpoint) bool {
	return a.Inflight.Load() < b.Inflight.Load()
}
