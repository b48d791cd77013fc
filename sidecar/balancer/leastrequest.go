package balancer

import (
	"math/rand/v2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// LeastRequest is the name of the least-request policy.
const LeastRequest = "least_request"

func init() { Register(leastRequestBuilder{}) }

type leastRequestBuilder struct{}

func (leastRequestBuilder) Name() string { return LeastRequest }

func (leastRequestBuilder) Build(_ *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	return &leastRequest{endpoints: endpoints}
}

// leastRequest is Envoy's default least-request policy: the power of two
// random choices, preferring the endpoint with fewer requests in flight per
// unit of weight.
type leastRequest struct {
	endpoints []*cluster.Endpoint
}

var _ cluster.Picker = (*leastRequest)(nil)

func (l *leastRequest) Pick(uint64) *cluster.Endpoint {
	n := len(l.endpoints)
	if n == 1 {
		return l.endpoints[0]
	}
	a := l.endpoints[rand.IntN(n)]
	b := l.endpoints[rand.IntN(n)]
	// Compare inflight_a/weight_a with inflight_b/weight_b without division.
	if b.Inflight.Load()*int64(a.Weight) < a.Inflight.Load()*int64(b.Weight) {
		return b
	}
	return a
}
