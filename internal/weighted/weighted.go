// Package weighted picks among a few weighted choices, as weighted_clusters
// splits do. It is lock-free and allocation-free.
package weighted

import "math/rand/v2"

// Split holds the running totals of a list of weights.
// The zero value has no choices. A Split is immutable once built.
type Split struct {
	cumul []uint32
}

// Add appends a choice of weight w and returns its index. A choice of
// weight 0 is never picked, unless it is the only one.
func (s *Split) Add(w uint32) int {
	var total uint32
	if n := len(s.cumul); n > 0 {
		total = s.cumul[n-1]
	}
	s.cumul = append(s.cumul, total+w)
	return len(s.cumul) - 1
}

// Pick returns the index of a choice, with probability proportional to its
// weight. There must be one choice, or a total weight above 0.
func (s *Split) Pick() int {
	if len(s.cumul) == 1 {
		return 0
	}
	x := rand.Uint32N(s.cumul[len(s.cumul)-1])
	for i, c := range s.cumul {
		if x < c {
			return i
		}
	}
	return len(s.cumul) - 1
}
