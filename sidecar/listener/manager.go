// Package listener owns the sidecar's listening sockets. It reconciles the
// set of listeners with each new configuration: sockets whose address is
// unchanged are kept (their handler is swapped), new ones are bound, and
// removed ones stop accepting and drain their connections.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves accepted connections. ServeConn owns c and must close it.
// ctx is done when the listener drains or the manager closes: a handler
// should then finish the request in progress and close.
type Handler interface {
	ServeConn(ctx context.Context, c net.Conn)
}

// Spec is one desired listener.
type Spec struct {
	Name    string
	Address string // host:port
	Handler Handler
	// Inbound marks a listener of traffic_direction INBOUND, which
	// [Manager.Stop] may stop alone.
	Inbound bool
}

type handlerBox struct{ h Handler }

// entry is one bound socket. Its identity is its address: a listener that
// is renamed but keeps its address keeps its socket.
type entry struct {
	name    atomic.Pointer[string]
	addr    string
	ln      net.Listener
	handler atomic.Pointer[handlerBox]
	ctx     context.Context // done when the entry drains
	cancel  context.CancelFunc
	// gen is the context new connections get: ctx, or one of its
	// children once a graceful stop began (stop.go).
	gen     atomic.Pointer[connGen]
	inbound atomic.Bool
	stopped bool // by Stop; guarded by Manager.mu
	conns   sync.WaitGroup
	liveMu  sync.Mutex
	live    map[net.Conn]struct{}
}

func (e *entry) track(c net.Conn) {
	e.liveMu.Lock()
	e.live[c] = struct{}{}
	e.liveMu.Unlock()
}

func (e *entry) untrack(c net.Conn) {
	e.liveMu.Lock()
	delete(e.live, c)
	e.liveMu.Unlock()
}

// closeConns closes every connection still open.
func (e *entry) closeConns() {
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	for c := range e.live {
		c.Close()
	}
}

// Manager owns the listening sockets. Reconcile and Close must be called
// from one goroutine at a time; accepting runs on goroutines it owns.
type Manager struct {
	logger  *slog.Logger
	mu      sync.Mutex // guards active and drained; never held across I/O
	active  map[string]*entry
	drained []*entry // draining entries that still have connections
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	slots   chan struct{} // one per open connection; nil: no bound
	stop    stopSel       // what Stop stopped; guarded by mu
}

// NewManager returns a manager with no listeners.
func NewManager(logger *slog.Logger) *Manager {
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{logger: logger, active: map[string]*entry{}, ctx: ctx, cancel: cancel}
}

// Reconcile makes the bound listeners match specs. It binds every new
// address first; if any bind fails it closes what it bound and returns the
// error, leaving the running listeners untouched. Otherwise it swaps the
// handlers of kept listeners, starts the new ones and drains the removed.
func (m *Manager) Reconcile(specs []Spec) error {
	m.mu.Lock()
	old := m.active
	m.mu.Unlock()
	if err := checkUnique(specs); err != nil {
		return err
	}
	next := make(map[string]*entry, len(specs))
	var bound []*entry
	m.mu.Lock()
	stop := m.stop
	m.mu.Unlock()
	for _, s := range specs {
		e := old[s.Address]
		if e == nil && stop.selects(s.Inbound) {
			m.logger.Warn("listener not started: listeners were stopped by /drain_listeners", "listener", s.Name)
			continue
		}
		if e == nil {
			var err error
			if e, err = m.bind(s); err != nil {
				closeAll(bound)
				return err
			}
			bound = append(bound, e)
		}
		next[s.Address] = e
	}
	for _, s := range specs {
		e := next[s.Address]
		if e == nil {
			continue // not started (above)
		}
		e.inbound.Store(s.Inbound)
		e.name.Store(&s.Name)
		e.handler.Store(&handlerBox{s.Handler})
	}
	m.mu.Lock()
	m.active = next
	m.mu.Unlock()
	for _, e := range bound {
		m.start(e)
	}
	for addr, e := range old {
		if next[addr] == nil {
			m.drain(e)
		}
	}
	return nil
}

func checkUnique(specs []Spec) error {
	seen := make(map[string]string, len(specs))
	for _, s := range specs {
		if other, dup := seen[s.Address]; dup {
			return fmt.Errorf("listener %q: address %s is used by listener %q", s.Name, s.Address, other)
		}
		seen[s.Address] = s.Name
	}
	return nil
}

func (m *Manager) bind(s Spec) (*entry, error) {
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return nil, fmt.Errorf("listener %q: binding %s: %w", s.Name, s.Address, err)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	e := &entry{addr: s.Address, ln: ln, ctx: ctx, cancel: cancel, live: map[net.Conn]struct{}{}}
	e.gen.Store(&connGen{ctx, cancel})
	return e, nil
}

func closeAll(es []*entry) {
	for _, e := range es {
		e.ln.Close()
		e.cancel()
	}
}

func (m *Manager) start(e *entry) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.accept(e)
	}()
}

// accept runs until the entry's socket is closed.
func (m *Manager) accept(e *entry) {
	var delay time.Duration
	for {
		if !m.acquire(e) {
			return
		}
		c, err := e.ln.Accept()
		if err != nil {
			m.release()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.logger.Warn("accept failed", "listener", *e.name.Load(), "err", err)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c = m.limit(c)
		h := e.handler.Load().h
		e.conns.Add(1)
		e.track(c)
		ctx := e.gen.Load().ctx
		go func() {
			defer e.conns.Done()
			defer e.untrack(c)
			h.ServeConn(ctx, c)
		}()
	}
}

// drain stops accepting on e and tells its connections to finish. It does
// not wait for them; Close does.
func (m *Manager) drain(e *entry) {
	m.logger.Info("listener draining", "listener", *e.name.Load(), "address", e.addr)
	e.ln.Close()
	e.cancel()
	m.mu.Lock()
	m.drained = append(m.drained, e)
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		e.conns.Wait()
		m.mu.Lock()
		m.drained = slices.DeleteFunc(m.drained, func(d *entry) bool { return d == e })
		m.mu.Unlock()
	}()
}

// Addresses returns the bound addresses by listener name.
func (m *Manager) Addresses() map[string]net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]net.Addr, len(m.active))
	for _, e := range m.active {
		out[*e.name.Load()] = e.ln.Addr()
	}
	return out
}

// Close drains every listener, waits up to grace for their connections to
// end, then closes those still open and waits for their handlers.
func (m *Manager) Close(grace time.Duration) {
	m.mu.Lock()
	old := m.active
	m.active = map[string]*entry{}
	m.mu.Unlock()
	for _, e := range old {
		m.drain(e)
	}
	m.cancel()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	m.closeAllConns(old)
	<-done
}

func (m *Manager) closeAllConns(active map[string]*entry) {
	m.mu.Lock()
	drained := m.drained
	m.drained = nil
	m.mu.Unlock()
	for _, e := range active {
		e.closeConns()
	}
	for _, e := range drained {
		e.closeConns()
	}
}
