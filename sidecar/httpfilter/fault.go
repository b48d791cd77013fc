package httpfilter

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// FaultType is the type URL of Envoy's HTTP fault injection filter.
const FaultType = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"

// Request headers that control faults when the configuration says so
// (header_delay, header_abort), as Envoy names them.
const (
	hdrDelay        = "x-envoy-fault-delay-request"
	hdrDelayPercent = "x-envoy-fault-delay-request-percentage"
	hdrAbort        = "x-envoy-fault-abort-request"
	hdrAbortPercent = "x-envoy-fault-abort-request-percentage"
)

// defaultAbortBody is Envoy's body for an injected abort.
const defaultAbortBody = "fault filter abort"

func init() { Register(faultBuilder{}) }

type faultBuilder struct{}

func (faultBuilder) TypeURL() string { return FaultType }

// Build compiles a *spec.Fault.
func (faultBuilder) Build(cfg any, env Env) (Filter, error) {
	c, ok := cfg.(*spec.Fault)
	if !ok {
		return nil, fmt.Errorf("fault: config is %T, want *spec.Fault", cfg)
	}
	hm, err := route.CompileHeaders(c.Headers)
	if err != nil {
		return nil, fmt.Errorf("headers: %w", err)
	}
	if c.Delay == nil && c.Abort == nil {
		return nil, nil // an empty HTTPFault, for routes to override
	}
	f := &fault{delay: c.Delay, abort: c.Abort, headers: hm, maxActive: -1, Stats: newFaultStats(env)}
	if c.MaxActiveFaults != nil {
		f.maxActive = int64(*c.MaxActiveFaults)
	}
	if a := c.Abort; a != nil {
		body := a.Body
		if body == "" {
			body = defaultAbortBody
		}
		f.reply = Reply{Status: a.Status, Body: body, Flag: stream.FaultInjected}
	}
	return f, nil
}

// FaultStats are a fault filter's counters, Envoy's
// http.<stat_prefix>.fault.{delays_injected,aborts_injected,faults_overflow},
// and its active faults (shared by the connection manager's fault filters,
// across snapshots, as Envoy's active_faults gauge).
type FaultStats struct {
	DelaysInjected, AbortsInjected, FaultsOverflow *atomic.Uint64
	ActiveFaults                                   *atomic.Int64
}

func newFaultStats(env Env) *FaultStats {
	p := "http." + env.StatPrefix + ".fault."
	return &FaultStats{
		DelaysInjected: env.counter(p + "delays_injected"),
		AbortsInjected: env.counter(p + "aborts_injected"),
		FaultsOverflow: env.counter(p + "faults_overflow"),
		ActiveFaults:   env.State.Get(p+"active_faults", func() any { return new(atomic.Int64) }).(*atomic.Int64),
	}
}

// fault injects delays, then aborts, into matching requests (Envoy's
// order: an aborted request is delayed first when both apply).
type fault struct {
	delay     *spec.FaultDelay
	abort     *spec.FaultAbort
	headers   route.HeaderMatchers
	maxActive int64 // -1: no bound
	reply     Reply // for fixed aborts
	Stats     *FaultStats
}

// RequestHeaders delays and aborts s as configured. A request counts as
// one active fault while its delay runs and its abort is decided (Envoy
// counts it until the stream ends).
func (f *fault) RequestHeaders(s *Stream) Status {
	if !f.headers.Match(s.Request) {
		return Continue
	}
	active := false
	if d, ok := f.delayFor(s.Request); ok && f.tryActivate() {
		active = true
		f.Stats.DelaysInjected.Add(1)
		s.Flags |= stream.DelayInjected
		if !s.wait(d) {
			f.Stats.ActiveFaults.Add(-1)
			return StopReset
		}
	}
	st := Continue
	if code, ok := f.abortFor(s.Request); ok && (active || f.tryActivate()) {
		active = true
		f.Stats.AbortsInjected.Add(1)
		s.Reply = f.reply
		s.Reply.Status = code
		st = StopReply
	}
	if active {
		f.Stats.ActiveFaults.Add(-1)
	}
	return st
}

// tryActivate counts one more active fault unless max_active_faults are
// already active.
func (f *fault) tryActivate() bool {
	if f.maxActive >= 0 && f.Stats.ActiveFaults.Load() >= f.maxActive {
		f.Stats.FaultsOverflow.Add(1)
		return false
	}
	f.Stats.ActiveFaults.Add(1)
	return true
}

// delayFor returns the delay for r, if it is to be delayed.
func (f *fault) delayFor(r *route.Request) (time.Duration, bool) {
	d := f.delay
	if d == nil {
		return 0, false
	}
	if !d.FromHeader {
		return d.Fixed, d.Fixed > 0 && roll(d.Percent)
	}
	ms, ok := headerUint(r, hdrDelay)
	if !ok || ms == 0 || !roll(headerPercent(r, hdrDelayPercent, d.Percent)) {
		return 0, false
	}
	return time.Duration(min(ms, uint64(maxDelay/time.Millisecond))) * time.Millisecond, true
}

// maxDelay bounds a header-controlled delay; the codec's Waiter bounds
// every wait further (by the stream idle timeout).
const maxDelay = time.Hour

// abortFor returns the status to abort r with, if it is to be aborted.
func (f *fault) abortFor(r *route.Request) (int, bool) {
	a := f.abort
	if a == nil {
		return 0, false
	}
	if !a.FromHeader {
		return a.Status, roll(a.Percent)
	}
	code, ok := headerUint(r, hdrAbort)
	if !ok || code < 200 || code >= 600 || !roll(headerPercent(r, hdrAbortPercent, a.Percent)) {
		return 0, false
	}
	return int(code), true
}

// headerPercent is Envoy's header-controlled percentage: the header's
// numerator, capped by the configured one, over the configured
// denominator; the configured percentage when the header is absent or
// not a number.
func headerPercent(r *route.Request, name string, p spec.Fraction) spec.Fraction {
	if n, ok := headerUint(r, name); ok {
		p.Numerator = uint32(min(n, uint64(p.Numerator)))
	}
	return p
}

// headerUint parses the first header named name as a decimal number.
func headerUint(r *route.Request, name string) (uint64, bool) {
	v, ok := r.Header(name)
	if !ok || len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
