package balancer

import (
	"math/rand/v2"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// PeakEWMA is the name of the peak-EWMA policy.
const PeakEWMA = "peak_ewma"

// Defaults of the peak-EWMA policy (Linkerd's).
const (
	defaultDecayTime  = 10 * time.Second
	defaultRTT        = 30 * time.Millisecond
	failurePenaltyRTT = time.Second
)

func init() { Register(peakEWMABuilder{}) }

type peakEWMABuilder struct{}

func (peakEWMABuilder) Name() string { return PeakEWMA }

// Build returns Linkerd's peak-EWMA power of two choices: of two random
// endpoints (drawn in proportion to weight), the one with the lower
// latency estimate × (in flight + 1) wins. Estimates live in the endpoints' [cluster.State], so they
// survive configuration changes, and the picker observes every outcome:
// a connection failure, reset or timeout counts as a latency of at least
// 1s, so a dead or hung endpoint looks slow rather than fast.
func (peakEWMABuilder) Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	p := &peakEWMA{endpoints: endpoints, decay: defaultDecayTime, rtt: float64(defaultRTT)}
	if !equalWeights(endpoints) {
		p.weighted = newWeightedRandom(endpoints)
	}
	if c := cfg.PeakEWMA; c != nil {
		if c.DecayTime > 0 {
			p.decay = c.DecayTime
		}
		if c.DefaultRTT > 0 {
			p.rtt = float64(c.DefaultRTT)
		}
	}
	return p
}

type peakEWMA struct {
	endpoints []*cluster.Endpoint
	decay     time.Duration
	rtt       float64         // default estimate, ns
	weighted  *weightedRandom // nil: equal weights
}

var (
	_ cluster.Picker   = (*peakEWMA)(nil)
	_ cluster.Observer = (*peakEWMA)(nil)
)

func (p *peakEWMA) Pick(uint64) *cluster.Endpoint {
	n := len(p.endpoints)
	if n == 1 {
		return p.endpoints[0]
	}
	var a, b *cluster.Endpoint
	if p.weighted != nil {
		a, b = p.weighted.Pick(0), p.weighted.Pick(0)
	} else {
		i, j := rand.IntN(n), rand.IntN(n-1)
		if j >= i {
			j++
		}
		a, b = p.endpoints[i], p.endpoints[j]
	}
	if p.cost(b) < p.cost(a) {
		return b
	}
	return a
}

// cost is the endpoint's estimated latency times its load.
func (p *peakEWMA) cost(e *cluster.Endpoint) float64 {
	c := e.Latency.Cost()
	if c == 0 {
		c = p.rtt
	}
	return c * float64(e.Inflight.Load()+1)
}

// Observe feeds the attempt's latency to the endpoint's estimate.
func (p *peakEWMA) Observe(ep *cluster.Endpoint, o cluster.Outcome) {
	rtt := o.Latency
	switch o.Failure {
	case cluster.LocalFailure:
		return
	case cluster.ConnectFailure, cluster.Reset, cluster.Timeout:
		rtt = max(rtt, failurePenaltyRTT)
	}
	ep.Latency.Observe(rtt, time.Now().UnixNano(), p.decay)
}
