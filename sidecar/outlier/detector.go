// Package outlier runs a cluster's outlier detection (Envoy's
// Cluster.outlier_detection), its consecutive-failure detectors:
// consecutive 5xx, consecutive gateway failure and consecutive
// local-origin failure. A [Detector] is attached to the cluster's
// [cluster.Runtime] as an observer of every attempt's outcome; it lives in
// the runtime across configuration snapshots, so counters and ejections
// survive configuration changes. An ejection is the endpoint's
// [cluster.Ejection]; when it changes the runtime rebuilds the cluster's
// picker, which leaves ejected endpoints out.
//
// The request path only touches per-endpoint atomic counters (no lock, no
// allocation); a detector that fires hands the endpoint to the detector's
// one goroutine, which decides, ejects, and un-ejects on the interval.
package outlier

import (
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// kind is the detector that fired.
type kind uint8

const (
	consecutive5xx kind = iota
	consecutiveGateway
	consecutiveLocal
	successRate
)

func (k kind) String() string {
	return [...]string{"consecutive_5xx", "consecutive_gateway_failure", "consecutive_local_origin_failure", "success_rate"}[k]
}

// host is one endpoint's outlier state. The counters are updated on the
// request path; ejectedAt and ejections belong to the detector's
// goroutine.
type host struct {
	addr                 string
	ej                   *cluster.Ejection
	c5xx, cGateway, cLoc atomic.Uint32
	queued               atomic.Bool // an event for it is in the channel
	// requests and successes in the current interval, for success rate.
	requests, successes atomic.Uint32
	ejectedAt           time.Time
	ejections           uint32
}

type event struct {
	h *host
	k kind
}

// Detector detects and ejects the outliers among one cluster's endpoints.
// It implements [cluster.Checker] and [cluster.Observer]. Safe for
// concurrent use.
type Detector struct {
	name   string
	rt     *cluster.Runtime
	stats  *cluster.OutlierStats
	logger *slog.Logger

	cfg   atomic.Pointer[spec.OutlierDetection]
	hosts atomic.Pointer[map[*cluster.State]*host]

	mu     sync.Mutex // serializes Update and Close
	events chan event
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

var (
	_ cluster.Checker  = (*Detector)(nil)
	_ cluster.Observer = (*Detector)(nil)
)

// New returns a detector of the cluster named name, attached to rt's
// outcomes, that ejects through rt and counts in stats. It watches no
// endpoint until [Detector.Update]; [Detector.Close] stops it.
func New(name string, rt *cluster.Runtime, stats *cluster.OutlierStats, logger *slog.Logger) *Detector {
	d := &Detector{name: name, rt: rt, stats: stats, logger: logger.With("cluster", name),
		events: make(chan event, 64), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	d.hosts.Store(&map[*cluster.State]*host{})
	return d
}

// Update follows c's configuration (c.Outlier, which must be set) and
// endpoints (those with [cluster.Endpoint.Outlier] set), keeping the
// counters and ejection history of endpoints it already watches. The
// first Update attaches the detector and starts its goroutine.
func (d *Detector) Update(c *cluster.Cluster) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	old := *d.hosts.Load()
	next := make(map[*cluster.State]*host, len(c.Endpoints))
	for _, e := range c.Endpoints {
		if e.Outlier == nil {
			continue
		}
		h := old[e.State]
		if h == nil || h.ej != e.Outlier {
			h = &host{addr: e.Addr, ej: e.Outlier}
			// An ejection restored after a restart keeps its time.
			h.ejectedAt, h.ejections = e.Outlier.Recorded()
		}
		next[e.State] = h
	}
	prev := d.cfg.Swap(c.Outlier)
	d.hosts.Store(&next)
	if prev == nil {
		d.rt.Attach(d)
		go d.run(c.Outlier.Interval)
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Close detaches the detector and stops its goroutine, waiting for it.
// Ejections stay in the runtime, which forgets them when the cluster has
// no outlier detection.
func (d *Detector) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	if d.cfg.Load() == nil {
		return
	}
	d.rt.Detach(d)
	close(d.stop)
	<-d.done
}

// Observe counts the outcome of an attempt on ep. It does not block, lock
// or allocate.
func (d *Detector) Observe(ep *cluster.Endpoint, o cluster.Outcome) {
	h := (*d.hosts.Load())[ep.State]
	cfg := d.cfg.Load()
	if h == nil || cfg == nil || o.Failure == cluster.LocalFailure {
		return
	}
	local := o.Failure != cluster.NoFailure
	if cfg.SplitLocalOrigin {
		if local {
			d.count(h, &h.cLoc, cfg.ConsecutiveLocalOriginFailure, consecutiveLocal)
			return
		}
		reset(&h.cLoc)
	}
	status := o.Status
	switch o.Failure {
	case cluster.ConnectFailure, cluster.Reset:
		status = 503
	case cluster.Timeout:
		status = 504
	}
	h.requests.Add(1)
	if status >= 500 {
		d.count(h, &h.c5xx, cfg.Consecutive5xx, consecutive5xx)
	} else {
		h.successes.Add(1)
		reset(&h.c5xx)
	}
	if status == 502 || status == 503 || status == 504 {
		d.count(h, &h.cGateway, cfg.ConsecutiveGatewayFailure, consecutiveGateway)
	} else {
		reset(&h.cGateway)
	}
}

// count adds a failure to c and, at threshold, hands h to the goroutine
// unless an event for it is already queued (a full queue drops the event;
// the next failure tries again).
func (d *Detector) count(h *host, c *atomic.Uint32, threshold uint32, k kind) {
	if c.Add(1) < threshold || !h.queued.CompareAndSwap(false, true) {
		return
	}
	select {
	case d.events <- event{h, k}:
	default:
		h.queued.Store(false)
	}
}

// reset zeroes c, writing only when it is not zero already.
func reset(c *atomic.Uint32) {
	if c.Load() != 0 {
		c.Store(0)
	}
}

// run is the detector's goroutine: it ejects on events and reviews
// ejections every interval.
func (d *Detector) run(interval time.Duration) {
	defer close(d.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case ev := <-d.events:
			d.eject(ev, time.Now())
		case <-d.wake:
			if iv := d.cfg.Load().Interval; iv != interval {
				interval = iv
				t.Reset(interval)
			}
		case now := <-t.C:
			d.review(now)
		}
	}
}

// eject decides on an endpoint whose detector fired: it ejects it unless
// max_ejection_percent of the endpoints are ejected already (as Envoy's
// DetectorImpl::ejectHost: the share ejected before this one must be below
// the percentage, so a first ejection is allowed when it is not 0) or the
// detector's enforcing percentage says not to.
func (d *Detector) eject(ev event, now time.Time) {
	h, cfg := ev.h, d.cfg.Load()
	counter, enforcing := &h.c5xx, cfg.EnforcingConsecutive5xx
	detected, enforced := &d.stats.Detected5xx, &d.stats.Enforced5xx
	switch ev.k {
	case consecutiveGateway:
		counter, enforcing = &h.cGateway, cfg.EnforcingConsecutiveGatewayFailure
		detected, enforced = &d.stats.DetectedGateway, &d.stats.EnforcedGateway
	case consecutiveLocal:
		counter, enforcing = &h.cLoc, cfg.EnforcingConsecutiveLocalOriginFailure
		detected, enforced = &d.stats.DetectedLocal, &d.stats.EnforcedLocal
	case successRate:
		counter, enforcing = nil, cfg.EnforcingSuccessRate
		detected, enforced = &d.stats.DetectedSuccessRate, &d.stats.EnforcedSuccessRate
	}
	if counter != nil {
		counter.Store(0)
		defer h.queued.Store(false)
	}
	hosts := *d.hosts.Load()
	if h.ej.Ejected() || hosts[stateOf(hosts, h)] != h {
		return
	}
	detected.Add(1)
	if 100*ejected(hosts) >= int(cfg.MaxEjectionPercent)*len(hosts) {
		d.stats.Overflow.Add(1)
		return
	}
	if enforcing == 0 || rand.Uint32N(100) >= enforcing {
		return
	}
	h.ejections++
	h.ejectedAt = now
	h.ej.Record(now, h.ejections)
	h.ej.SetEjected(true)
	enforced.Add(1)
	d.stats.EnforcedTotal.Add(1)
	d.logger.Info("outlier ejected", "endpoint", h.addr, "detector", ev.k.String(), "ejections", h.ejections)
	d.rt.Rebuild()
}

// review un-ejects the endpoints whose ejection time has passed, and
// lowers the ejection count of those not ejected.
func (d *Detector) review(now time.Time) {
	cfg := d.cfg.Load()
	changed := false
	for _, h := range *d.hosts.Load() {
		switch {
		case h.ej.Ejected():
			if now.Sub(h.ejectedAt) >= ejectionTime(cfg, h.ejections) {
				h.ej.SetEjected(false)
				h.c5xx.Store(0)
				h.cGateway.Store(0)
				h.cLoc.Store(0)
				changed = true
				d.logger.Info("outlier returned", "endpoint", h.addr)
			}
		case h.ejections > 0:
			h.ejections--
			h.ej.Record(h.ejectedAt, h.ejections)
		}
	}
	if changed {
		d.rt.Rebuild()
	}
	for _, h := range outliersBySuccessRate(cfg, *d.hosts.Load()) {
		d.eject(event{h, successRate}, now)
	}
}

// outliersBySuccessRate returns the endpoints not ejected whose success
// rate in the interval that ends is below mean - stdev ×
// success_rate_stdev_factor/1000 of those with success_rate_request_volume
// requests, if at least success_rate_minimum_hosts have; it records each
// endpoint's rate (for the admin's /clusters) and starts the next
// interval's counts.
func outliersBySuccessRate(cfg *spec.OutlierDetection, hosts map[*cluster.State]*host) []*host {
	var (
		rated []*host
		rates []float64
		sum   float64
	)
	for _, h := range hosts {
		n, ok := h.requests.Swap(0), h.successes.Swap(0)
		if h.ej.Ejected() || n == 0 || n < cfg.SuccessRateRequestVolume {
			h.ej.SetSuccessRate(0, false)
			continue
		}
		r := 100 * float64(ok) / float64(n)
		h.ej.SetSuccessRate(r, true)
		rated, rates, sum = append(rated, h), append(rates, r), sum+r
	}
	if len(rated) == 0 || len(rated) < int(cfg.SuccessRateMinimumHosts) {
		return nil
	}
	mean := sum / float64(len(rates))
	var variance float64
	for _, r := range rates {
		variance += (r - mean) * (r - mean)
	}
	threshold := mean - math.Sqrt(variance/float64(len(rates)))*float64(cfg.SuccessRateStdevFactor)/1000
	var out []*host
	for i, h := range rated {
		if rates[i] < threshold {
			out = append(out, h)
		}
	}
	return out
}

// ejectionTime is base_ejection_time times the number of ejections, capped
// by max_ejection_time.
func ejectionTime(cfg *spec.OutlierDetection, n uint32) time.Duration {
	return min(cfg.BaseEjectionTime*time.Duration(max(n, 1)), cfg.MaxEjectionTime)
}

// ejected counts the ejected endpoints among hosts.
func ejected(hosts map[*cluster.State]*host) int {
	n := 0
	for _, h := range hosts {
		if h.ej.Ejected() {
			n++
		}
	}
	return n
}

// stateOf returns the key of h in hosts, or nil.
func stateOf(hosts map[*cluster.State]*host, h *host) *cluster.State {
	for s, x := range hosts {
		if x == h {
			return s
		}
	}
	return nil
}
