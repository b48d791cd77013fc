package cluster

import (
	"math"
	"sync/atomic"
	"time"
)

// EWMA is an endpoint's peak exponentially weighted moving average of
// attempt latency (Finagle's and Linkerd's peak EWMA): a sample above the
// average replaces it at once, one below pulls it down with weight
// 1 - exp(-Δt/τ), Δt being the time since the last sample. The zero
// value has no estimate. Safe for concurrent use; concurrent updates may
// lose one of the samples, which an estimate tolerates. Nothing allocates.
type EWMA struct {
	cost atomic.Uint64 // math.Float64bits of the estimate in nanoseconds
	at   atomic.Int64  // UnixNano of the last sample, 0: none
}

// Cost returns the estimate in nanoseconds, or 0 without one.
func (e *EWMA) Cost() float64 { return math.Float64frombits(e.cost.Load()) }

// At returns when the last sample was taken (UnixNano), 0 without one.
func (e *EWMA) At() int64 { return e.at.Load() }

// Observe adds a latency sample taken at now (UnixNano) with time
// constant tau.
func (e *EWMA) Observe(rtt time.Duration, now int64, tau time.Duration) {
	sample := float64(rtt)
	prev, last := e.Cost(), e.at.Swap(now)
	next := sample
	if last != 0 && sample < prev {
		w := math.Exp(-float64(max(now-last, 0)) / float64(tau))
		next = prev*w + sample*(1-w)
	}
	e.cost.Store(math.Float64bits(next))
}

// Set restores an estimate taken at (UnixNano), as persisted.
func (e *EWMA) Set(cost float64, at int64) {
	e.cost.Store(math.Float64bits(cost))
	e.at.Store(at)
}
