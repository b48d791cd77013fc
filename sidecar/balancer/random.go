package balancer

import (
	"math/rand/v2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Random is the name of the weighted random policy.
const Random = "random"

func init() { Register(randomBuilder{}) }

type randomBuilder struct{}

func (randomBuilder) Name() string { return Random }

func (randomBuilder) Build(_ *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	return newWeightedRandom(endpoints)
}

// weightedRandom picks with probability proportional to weight by binary
// search over cumulative weights, or uniformly when the weights are equal.
type weightedRandom struct {
	endpoints []*cluster.Endpoint
	cum       []uint64 // cum[i] = sum of weights of endpoints[0..i]; nil: equal weights
}

var _ cluster.Picker = (*weightedRandom)(nil)

func newWeightedRandom(endpoints []*cluster.Endpoint) *weightedRandom {
	w := &weightedRandom{endpoints: endpoints}
	if equalWeights(endpoints) {
		return w
	}
	w.cum = make([]uint64, len(endpoints))
	var sum uint64
	for i, e := range endpoints {
		sum += uint64(e.Weight)
		w.cum[i] = sum
	}
	return w
}

func (w *weightedRandom) Pick(uint64) *cluster.Endpoint {
	if w.cum == nil {
		return w.endpoints[rand.Uint64N(uint64(len(w.endpoints)))]
	}
	x := rand.Uint64N(w.cum[len(w.cum)-1])
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if w.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return w.endpoints[lo]
}
