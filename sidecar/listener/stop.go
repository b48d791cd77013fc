package listener

import (
	"time"
)

// stopSel is what [Manager.Stop] stopped.
type stopSel uint8

const (
	stopNone stopSel = iota
	stopInbound
	stopAll
)

// selects reports whether a listener (inbound or not) is stopped.
func (s stopSel) selects(inbound bool) bool {
	return s == stopAll || (s == stopInbound && inbound)
}

// Stop stops the listeners Envoy's /drain_listeners names: every one, or
// with inboundOnly those whose Spec is Inbound. A connection told to drain
// finishes the request in progress and closes (HTTP/1 answers carry
// Connection: close, HTTP/2 gets GOAWAY). With grace 0 the connections
// drain and the listeners stop accepting at once. Otherwise (?graceful)
// the listeners go on accepting for grace, so that clients not yet
// steered away are not refused, and the connections drain over that time
// as Envoy's drain manager spreads them (see [DrainStrategy]); then the
// listeners stop and every connection left drains. A stopped listener
// stays stopped across Reconcile, and a listener added later that the
// stop covers is not started. Stop does not wait for connections to end;
// Close still does.
func (m *Manager) Stop(inboundOnly bool, grace time.Duration, strategy DrainStrategy) {
	sel := stopAll
	if inboundOnly {
		sel = stopInbound
	}
	m.mu.Lock()
	m.stop = max(m.stop, sel)
	var stopping []*entry
	for _, e := range m.active {
		if !e.stopped && sel.selects(e.inbound.Load()) {
			e.stopped = true
			stopping = append(stopping, e)
		}
	}
	m.mu.Unlock()
	for _, e := range stopping {
		m.logger.Info("listener stopped by /drain_listeners", "listener", *e.name.Load(), "address", e.addr, "grace", grace)
		if grace <= 0 {
			e.ln.Close()
			e.cancel()
			continue
		}
		e.startDrain(&drainClock{start: time.Now(), span: grace, strategy: strategy})
	}
	if grace > 0 && len(stopping) > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
			case <-m.ctx.Done(): // Close drains them
			}
			for _, e := range stopping {
				e.ln.Close()
				e.cancel()
			}
		}()
	}
}

// startDrain begins a graceful drain of e's connections: each open one is
// told to drain at its turn (drainClock.delay), and from now on each
// response may close its connection (connCtx.Err).
func (e *entry) startDrain(d *drainClock) {
	e.liveMu.Lock()
	open := make([]*connCtx, 0, len(e.live))
	for _, cc := range e.live {
		open = append(open, cc)
	}
	e.liveMu.Unlock()
	e.clock.Store(d)
	for i, cc := range open {
		cc.drainAfter(d.delay(i, len(open)))
	}
}
