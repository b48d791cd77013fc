package stats

import "sync/atomic"

// Listener are a listener's connection counters, Envoy's
// listener.<address>.downstream_cx_*. Safe for concurrent use.
type Listener struct {
	CxTotal   atomic.Uint64 // downstream_cx_total
	CxDestroy atomic.Uint64 // downstream_cx_destroy
	CxActive  atomic.Int64  // downstream_cx_active
	CxLength  Histogram     // downstream_cx_length_ms
}
