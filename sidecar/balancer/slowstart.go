package balancer

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// slowStartTries bounds how often a pick rejected for slow start is made
// again.
const slowStartTries = 4

// slowStart ramps up new endpoints (Envoy's slow_start_config): a pick of
// an endpoint younger than the window (see [cluster.Endpoint.Since]) is
// kept with probability max(minWeight, (age/window)^(1/aggression)), else
// made again at weighted random, so its share grows from min_weight_percent
// of its weight to all of it over the window.
type slowStart struct {
	base     cluster.Picker
	again    *weightedRandom
	window   float64 // ns
	exponent float64 // 1/aggression
	minShare float64
}

var _ cluster.Picker = (*slowStart)(nil)

// withSlowStart wraps p in cfg's slow start, if any and if it can matter.
func withSlowStart(cfg *spec.Cluster, endpoints []*cluster.Endpoint, p cluster.Picker) cluster.Picker {
	ss := cfg.SlowStart
	if ss == nil || ss.Window <= 0 || len(endpoints) < 2 {
		return p
	}
	return &slowStart{base: p, again: newWeightedRandom(endpoints), window: float64(ss.Window),
		exponent: 1 / ss.Aggression, minShare: ss.MinWeightPercent / 100}
}

func (s *slowStart) Pick(hash uint64) *cluster.Endpoint {
	e := s.base.Pick(hash)
	now := time.Now().UnixNano()
	for range slowStartTries {
		if e == nil || rand.Float64() < s.share(e, now) {
			return e
		}
		e = s.again.Pick(hash)
	}
	return e
}

// share returns the part of its weight e gets at now.
func (s *slowStart) share(e *cluster.Endpoint, now int64) float64 {
	age := float64(now - e.Since())
	if age >= s.window {
		return 1
	}
	return max(s.minShare, math.Pow(max(age, 0)/s.window, s.exponent))
}
