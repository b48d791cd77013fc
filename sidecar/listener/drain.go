package listener

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// DrainStrategy is Envoy's --drain-strategy: how a graceful drain spreads
// over the drain time.
type DrainStrategy uint8

const (
	// Gradual (Envoy's default): each response closes its connection with
	// a probability that rises linearly from 0 to 1 over the drain time,
	// and the connections are told to drain one after another over the
	// first quarter of it.
	Gradual DrainStrategy = iota
	// Immediate: every connection drains at once.
	Immediate
)

// ParseDrainStrategy parses "gradual" or "immediate".
func ParseDrainStrategy(s string) (DrainStrategy, error) {
	switch s {
	case "gradual":
		return Gradual, nil
	case "immediate":
		return Immediate, nil
	}
	return 0, fmt.Errorf("drain strategy %q: want gradual or immediate", s)
}

// drainClock is a graceful drain in progress, as Envoy's DrainManagerImpl
// (source/server/drain_manager_impl.cc) times it.
type drainClock struct {
	start    time.Time
	span     time.Duration // the drain time
	strategy DrainStrategy
}

// closeNow is Envoy's drainClose: whether the response being sent should
// close its connection. Immediate: always. Gradual: with probability
// elapsed/span, 1 past the span. (Envoy counts whole seconds; this counts
// nanoseconds, so short drain times ramp up smoothly too.)
func (d *drainClock) closeNow(now time.Time) bool {
	elapsed := now.Sub(d.start)
	if d.strategy == Immediate || elapsed >= d.span || d.span <= 0 {
		return true
	}
	return rand.Int64N(int64(d.span)) < int64(elapsed)
}

// delay is when the i-th of n connections open as the drain starts is
// told to drain: Envoy's startDrainSequence spreads its drain callbacks
// over the first quarter of the drain time (i/4/n of it); Immediate: now.
// A connection accepted during the drain gets no such time (Envoy picks a
// random one in what is left, after which an HTTP/1 connection still
// waits for its next response or the connection manager's drain_timeout):
// it is left to the per-response decision and to the end of the drain, so
// a client's first request on a new connection is always answered.
func (d *drainClock) delay(i, n int) time.Duration {
	if d.strategy == Immediate || n == 0 {
		return 0
	}
	return time.Duration(float64(i) / 4 / float64(n) * float64(d.span))
}

// connCtx is the context a connection is served under. It is done when
// the listener stops, when a graceful drain tells this connection to
// drain (a timer, see [drainClock.delay]), or when Err is asked during a
// graceful drain and [drainClock.closeNow] says so: the HTTP/1 codec asks
// after each response, so that response carries Connection: close, as
// Envoy's drainClose decides per response. Done closes before Err first
// returns non-nil, as context requires.
type connCtx struct {
	context.Context
	cancel context.CancelFunc
	clock  *atomic.Pointer[drainClock] // the listener's; nil until a graceful drain
	timer  atomic.Pointer[time.Timer]  // the scheduled drain, if any
}

func newConnCtx(parent context.Context, clock *atomic.Pointer[drainClock]) *connCtx {
	ctx, cancel := context.WithCancel(parent)
	return &connCtx{Context: ctx, cancel: cancel, clock: clock}
}

// Err is the context's error, deciding first, during a graceful drain,
// whether this connection drains now.
func (c *connCtx) Err() error {
	if d := c.clock.Load(); d != nil && c.Context.Err() == nil && d.closeNow(time.Now()) {
		c.cancel()
	}
	return c.Context.Err()
}

// drainAfter tells the connection to drain after d.
func (c *connCtx) drainAfter(d time.Duration) {
	if d <= 0 {
		c.cancel()
		return
	}
	if old := c.timer.Swap(time.AfterFunc(d, c.cancel)); old != nil {
		old.Stop()
	}
}

// release stops the scheduled drain and frees the context.
func (c *connCtx) release() {
	if t := c.timer.Load(); t != nil {
		t.Stop()
	}
	c.cancel()
}
