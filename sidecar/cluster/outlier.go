package cluster

import (
	"math"
	"sync/atomic"
	"time"
)

// Ejection is the outlier-detection verdict on one endpoint of one cluster
// (Envoy's FAILED_OUTLIER_CHECK flag). Like [ActiveHealth] it is kept in
// the cluster's [Runtime] by endpoint [State], so snapshots share it and a
// configuration change never resets it. Safe for concurrent use.
type Ejection struct {
	ejected atomic.Bool
	at      atomic.Int64  // UnixNano of the last ejection
	count   atomic.Uint32 // the detector's ejection count (time multiplier)
	// rate is the last interval's success rate in thousandths of a
	// percent, plus 1; 0: not rated.
	rate atomic.Int64
}

// SuccessRate returns the success rate (percent) of the endpoint's
// requests in the detector's last interval, and false when it was not
// rated (too few requests, or ejected), which Envoy's admin shows as -1.
func (e *Ejection) SuccessRate() (float64, bool) {
	r := e.rate.Load()
	return float64(r-1) / 1000, r != 0
}

// SetSuccessRate records the endpoint's success rate (percent) for the
// interval that ended, or with ok false that it was not rated.
func (e *Ejection) SetSuccessRate(rate float64, ok bool) {
	var r int64
	if ok {
		r = int64(math.Round(rate*1000)) + 1
	}
	e.rate.Store(r)
}

// Record notes when the endpoint was last ejected and the detector's
// count of its ejections, so they can be persisted and restored.
func (e *Ejection) Record(at time.Time, count uint32) {
	e.at.Store(at.UnixNano())
	e.count.Store(count)
}

// Recorded returns what [Ejection.Record] noted (zero values: nothing).
func (e *Ejection) Recorded() (at time.Time, count uint32) {
	if n := e.at.Load(); n != 0 {
		at = time.Unix(0, n)
	}
	return at, e.count.Load()
}

// Ejected reports whether the endpoint is ejected.
func (e *Ejection) Ejected() bool { return e.ejected.Load() }

// SetEjected records the verdict and reports whether it changed.
func (e *Ejection) SetEjected(v bool) bool { return e.ejected.Swap(v) != v }

// OutlierStats are Envoy's cluster.<name>.outlier_detection.* counters.
type OutlierStats struct {
	EnforcedTotal atomic.Uint64 // ejections_enforced_total
	Overflow      atomic.Uint64 // ejections_overflow
	// Detected and Enforced count by detector: consecutive_5xx,
	// consecutive_gateway_failure, consecutive_local_origin_failure,
	Detected5xx, Enforced5xx         atomic.Uint64
	DetectedGateway, EnforcedGateway atomic.Uint64
	DetectedLocal, EnforcedLocal     atomic.Uint64
	// success_rate.
	DetectedSuccessRate, EnforcedSuccessRate atomic.Uint64
}

// Ejection returns the ejection of the endpoint with state s, creating it
// not ejected.
func (r *Runtime) Ejection(s *State) *Ejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.h.ejections[s]
	if !ok {
		if r.h.ejections == nil {
			r.h.ejections = map[*State]*Ejection{}
		}
		e = &Ejection{}
		r.restoreEjection(s, e)
		r.h.ejections[s] = e
	}
	return e
}

// Detector returns the outlier detector attached to the runtime, or nil.
func (r *Runtime) Detector() Checker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h.detector
}

// SetDetector attaches the outlier detector d (nil for none), closing the
// one it replaces.
func (r *Runtime) SetDetector(d Checker) { r.replace(&r.h.detector, d) }

// Detach removes obs from the observers [Runtime.Attach] added. It must
// not be called on the request path.
func (r *Runtime) Detach(obs Observer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.attached[:0:0]
	for _, o := range r.attached {
		if o != obs {
			kept = append(kept, o)
		}
	}
	r.attached = kept
	if in := r.cur.Load(); in != nil {
		r.install(in.picker)
	}
}

// stop closes the runtime's checker and detector.
func (r *Runtime) stop() {
	r.SetChecker(nil)
	r.SetDetector(nil)
}
