package balancer

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// RingHash is the name of Envoy's ring hash (ketama) policy.
const RingHash = "ring_hash"

// Envoy's ring_hash_lb_config defaults.
const (
	defaultMinRingSize = 1024
	defaultMaxRingSize = 8 * 1024 * 1024
)

func init() { Register(ringHashBuilder{}) }

type ringHashBuilder struct{}

func (ringHashBuilder) Name() string { return RingHash }

func (ringHashBuilder) Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	minSize, maxSize := uint64(defaultMinRingSize), uint64(defaultMaxRingSize)
	if rh := cfg.RingHash; rh != nil {
		if rh.MinRingSize > 0 {
			minSize = rh.MinRingSize
		}
		if rh.MaxRingSize > 0 {
			maxSize = rh.MaxRingSize
		}
	}
	return newRing(endpoints, minSize, maxSize)
}

// ring is a sorted ring of points, each owned by an endpoint; a hash is
// served by the first point at or after it, wrapping around. It is built
// as Envoy's RingHashLoadBalancer builds its ring: every endpoint gets
// points in proportion to its share of the weight, at least
// ceil(min share * minSize) for the lightest, the total capped at maxSize;
// point i of an endpoint hashes "<address>_<i>" with xxHash64 (seed 0).
type ring struct {
	hashes    []uint64 // sorted
	endpoints []*cluster.Endpoint
}

var _ cluster.Picker = (*ring)(nil)

func newRing(endpoints []*cluster.Endpoint, minSize, maxSize uint64) *ring {
	weights, minW := normalizedWeights(endpoints)
	scale := math.Min(math.Ceil(minW*float64(minSize))/minW, float64(maxSize))
	type point struct {
		hash uint64
		e    *cluster.Endpoint
	}
	points := make([]point, 0, int(math.Ceil(scale))+len(endpoints))
	var buf []byte
	target, current := 0.0, 0.0
	for i, e := range endpoints {
		target += scale * weights[i]
		for n := uint64(0); current < target; n++ {
			buf = strconv.AppendUint(append(append(buf[:0], e.Addr...), '_'), n, 10)
			points = append(points, point{xxhash.Sum64(buf), e})
			current++
		}
	}
	slices.SortStableFunc(points, func(a, b point) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	r := &ring{hashes: make([]uint64, len(points)), endpoints: make([]*cluster.Endpoint, len(points))}
	for i, p := range points {
		r.hashes[i], r.endpoints[i] = p.hash, p.e
	}
	return r
}

// Pick returns the owner of the first point at or after hash; hash 0 (no
// hash policy matched) picks a random point, as Envoy does.
func (r *ring) Pick(hash uint64) *cluster.Endpoint {
	if hash == 0 {
		hash = randUint64()
	}
	lo, hi := 0, len(r.hashes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.hashes[mid] < hash {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r.hashes) {
		lo = 0
	}
	return r.endpoints[lo]
}

// normalizedWeights returns each endpoint's share of the total weight and
// the smallest share. An endpoint of weight 0 counts as weight 1.
func normalizedWeights(endpoints []*cluster.Endpoint) ([]float64, float64) {
	var sum float64
	for _, e := range endpoints {
		sum += float64(max(e.Weight, 1))
	}
	out := make([]float64, len(endpoints))
	minW := 1.0
	for i, e := range endpoints {
		out[i] = float64(max(e.Weight, 1)) / sum
		minW = math.Min(minW, out[i])
	}
	return out, minW
}

// randUint64 is the hash of a request no hash policy matched.
func randUint64() uint64 { return rand.Uint64() | 1 }
