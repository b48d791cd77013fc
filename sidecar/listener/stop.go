package listener

import (
	"context"
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

// connGen is the context connections accepted now are served under, and
// its cancel.
type connGen struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// Stop stops the listeners Envoy's /drain_listeners names: every one, or
// with inboundOnly those whose Spec is Inbound. Their connections are told
// to drain at once (each finishes the request in progress and closes;
// HTTP/1 answers carry Connection: close, HTTP/2 gets GOAWAY). With grace
// 0 the listeners stop accepting at once. Otherwise (?graceful) they go on
// accepting for grace, serving new connections normally, so that clients
// not yet steered away are not refused, and then stop, draining those
// connections too. A stopped listener stays stopped across Reconcile, and
// a listener added later that the stop covers is not started. Stop does
// not wait for connections to end; Close still does.
func (m *Manager) Stop(inboundOnly bool, grace time.Duration) {
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
		ctx, cancel := context.WithCancel(e.ctx)
		e.gen.Swap(&connGen{ctx, cancel}).cancel()
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
