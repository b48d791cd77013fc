// Package stats holds the sidecar's statistics primitives: counters and
// histograms kept as atomics, updated on the request path without locks,
// map lookups or allocations, and read by the admin endpoints when scraped.
// It imports nothing of the sidecar, so every data-plane package can use it.
package stats

import (
	"sync/atomic"
	"time"
)

// Bounds are Envoy's default histogram bucket bounds, in milliseconds
// (stats_config.histogram_bucket_settings unset), so Prometheus queries
// written for Envoy's _bucket series work unchanged.
var Bounds = [...]float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// boundsUs are Bounds in microseconds, for integer comparison.
var boundsUs = func() (b [len(Bounds)]int64) {
	for i, v := range Bounds {
		b[i] = int64(v * 1000)
	}
	return b
}()

// Histogram is a latency histogram in milliseconds with Envoy's default
// buckets, such as upstream_rq_time. The zero value is ready to use; it is
// safe for concurrent use, and Record neither locks nor allocates. It must
// not be copied.
type Histogram struct {
	buckets [len(Bounds) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumUs   atomic.Uint64                  // sum of the samples, microseconds
}

// Record adds one sample of duration d (negative counts as 0).
func (h *Histogram) Record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	i := 0
	for i < len(boundsUs) && us > boundsUs[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumUs.Add(uint64(us))
}

// Snapshot is a histogram read at one moment.
type Snapshot struct {
	// Cumulative counts the samples at or below Bounds[i]; the count of
	// all samples is Count.
	Cumulative [len(Bounds)]uint64
	Count      uint64
	SumMs      float64
}

// Read returns the histogram's current counts. Concurrent Records may or
// may not be included, but the counts are cumulative and consistent with
// Count.
func (h *Histogram) Read() Snapshot {
	var s Snapshot
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
		if i < len(Bounds) {
			s.Cumulative[i] = n
		}
	}
	s.Count = n
	s.SumMs = float64(h.sumUs.Load()) / 1000
	return s
}

// Quantile estimates the q-quantile (0 < q <= 1) in milliseconds by linear
// interpolation within the bucket holding it, as Prometheus's
// histogram_quantile does; 0 with no samples.
func (s *Snapshot) Quantile(q float64) float64 {
	if s.Count == 0 {
		return 0
	}
	rank := q * float64(s.Count)
	lo, below := 0.0, uint64(0)
	for i, c := range s.Cumulative {
		if float64(c) >= rank {
			in := c - below
			if in == 0 {
				return Bounds[i]
			}
			return lo + (Bounds[i]-lo)*(rank-float64(below))/float64(in)
		}
		lo, below = Bounds[i], c
	}
	return Bounds[len(Bounds)-1]
}
