package cluster

import (
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxIdle bounds the idle connections kept per endpoint.
const DefaultMaxIdle = 256

// idleConn is a pooled connection and when it was put back.
type idleConn struct {
	c     net.Conn
	since time.Time
}

// Pool is a LIFO stack of idle upstream connections to one address, so
// the oldest are at the bottom. The zero value is ready to use. Safe for
// concurrent use; Get and Put hold its lock for a few instructions and
// never do I/O under it.
type Pool struct {
	mu     sync.Mutex
	idle   []idleConn
	closed bool
	// timeout closes connections idle that long (nanoseconds); 0 never.
	timeout atomic.Int64
	// shared, when set, bounds the idle connections of all pools of a
	// registry together.
	shared *IdleBudget
	// mux is the multiplexing upstream codec's pool, made on first use.
	mux MuxPool
}

// MuxPool is a multiplexing upstream codec's connections to one endpoint
// (HTTP/2: several requests at once on each), kept beside the HTTP/1.1
// idle stack so the two never mix. Close closes them; it must be safe for
// concurrent use.
type MuxPool interface{ Close() }

// Mux returns the endpoint's multiplexed connections, made with newMux on
// first use. A pool already closed closes what newMux made, at once.
func (p *Pool) Mux(newMux func() MuxPool) MuxPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mux == nil {
		p.mux = newMux()
		if p.closed {
			p.mux.Close()
		}
	}
	return p.mux
}

// IdleBudget bounds the idle connections of many pools together, so idle
// upstream connections cannot use up the file descriptors that new
// requests need. The zero value has no bound.
type IdleBudget struct {
	n   atomic.Int64
	max atomic.Int64
}

// SetMax sets the bound; 0 for none.
func (b *IdleBudget) SetMax(n int) { b.max.Store(int64(n)) }

// take reserves one idle connection, reporting false at the bound.
func (b *IdleBudget) take() bool {
	if b == nil {
		return true
	}
	if m := b.max.Load(); m > 0 && b.n.Load() >= m {
		return false
	}
	b.n.Add(1)
	return true
}

func (b *IdleBudget) give(k int) {
	if b != nil {
		b.n.Add(-int64(k))
	}
}

// SetIdleTimeout sets how long a connection may stay idle in the pool
// (the cluster's common_http_protocol_options.idle_timeout); 0 for ever.
func (p *Pool) SetIdleTimeout(d time.Duration) { p.timeout.Store(int64(d)) }

// Get returns the most recently used idle connection, or nil. It closes
// the connections it finds idle for longer than the idle timeout.
func (p *Pool) Get() net.Conn { return p.GetAt(time.Now()) }

// GetAt is Get with the clock read by the caller: now is the current time.
func (p *Pool) GetAt(now time.Time) net.Conn {
	timeout := time.Duration(p.timeout.Load())
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		ic := p.idle[n-1]
		p.idle[n-1] = idleConn{}
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		p.shared.give(1)
		if timeout <= 0 || now.Sub(ic.since) < timeout {
			return ic.c
		}
		ic.c.Close()
	}
}

// Put returns c to the pool, or closes it when the pool is full or closed,
// or the registry's idle budget is spent.
func (p *Pool) Put(c net.Conn) { p.PutAt(c, time.Time{}) }

// PutAt is Put with c idle since the time given, a reading of the clock
// the caller already made (zero: now). A reading taken somewhat before
// the connection went idle only makes it expire that much sooner.
func (p *Pool) PutAt(c net.Conn, since time.Time) {
	if !p.shared.take() {
		c.Close()
		return
	}
	if since.IsZero() {
		since = time.Now()
	}
	p.mu.Lock()
	if p.closed || len(p.idle) >= DefaultMaxIdle {
		p.mu.Unlock()
		p.shared.give(1)
		c.Close()
		return
	}
	p.idle = append(p.idle, idleConn{c, since})
	p.mu.Unlock()
}

// Idle returns the number of idle connections.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// reap closes the connections idle for longer than the idle timeout.
func (p *Pool) reap(now time.Time) {
	timeout := time.Duration(p.timeout.Load())
	if timeout <= 0 {
		return
	}
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].since) >= timeout {
		n++
	}
	if n == 0 {
		p.mu.Unlock()
		return
	}
	old := slices.Clone(p.idle[:n])
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	p.mu.Unlock()
	p.shared.give(n)
	for _, ic := range old {
		ic.c.Close()
	}
}

// Close closes the idle connections and the multiplexed ones; connections
// Put later are closed at once.
func (p *Pool) Close() {
	p.mu.Lock()
	idle, mux := p.idle, p.mux
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	if mux != nil {
		mux.Close()
	}
	p.shared.give(len(idle))
	for _, ic := range idle {
		ic.c.Close()
	}
}
