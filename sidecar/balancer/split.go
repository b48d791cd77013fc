package balancer

import (
	"math/rand/v2"
	"sync/atomic"
)

// split chooses among n choices in proportion to integer weights. With a
// small total it walks a precomputed smooth schedule (exact shares, no
// bursts) by one atomic add; otherwise it draws at random. Safe for
// concurrent use; choosing never allocates.
type split struct {
	next  atomic.Uint64
	sched []uint32 // nil: draw at random
	cum   []uint64 // cum[i] = sum of weights[0..i]
}

// newSplit returns a split over weights, which must have a positive sum.
func newSplit(weights []uint64) *split {
	g := uint64(0)
	for _, w := range weights {
		g = gcd(g, w)
	}
	s := &split{cum: make([]uint64, len(weights))}
	reduced := make([]uint64, len(weights))
	var total uint64
	for i, w := range weights {
		reduced[i] = w / g
		total += reduced[i]
		s.cum[i] = total
	}
	if total <= maxSchedule {
		s.sched = smoothIndices(reduced, total)
	}
	return s
}

// choose returns the next choice.
func (s *split) choose() int {
	if s.sched != nil {
		return int(s.sched[(s.next.Add(1)-1)%uint64(len(s.sched))])
	}
	return s.at(rand.Uint64N(s.cum[len(s.cum)-1]))
}

// at returns the choice whose cumulative range holds x, which must be
// below the total weight.
func (s *split) at(x uint64) int {
	lo, hi := 0, len(s.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if s.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// total returns the sum of the (reduced) weights.
func (s *split) total() uint64 { return s.cum[len(s.cum)-1] }

// smoothIndices is nginx's smooth weighted round robin over weights,
// unrolled into a schedule of total entries.
func smoothIndices(weights []uint64, total uint64) []uint32 {
	current := make([]int64, len(weights))
	out := make([]uint32, 0, total)
	for range total {
		best := 0
		for i, w := range weights {
			current[i] += int64(w)
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= int64(total)
		out = append(out, uint32(best))
	}
	return out
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
