package cluster

import (
	"net"
	"sync"
)

// DefaultMaxIdle bounds the idle connections kept per endpoint.
const DefaultMaxIdle = 256

// Pool is a LIFO stack of idle upstream connections to one address. The
// zero value is ready to use. Safe for concurrent use; Get and Put hold its
// lock for a few instructions and never do I/O under it.
type Pool struct {
	mu     sync.Mutex
	idle   []net.Conn
	closed bool
}

// Get returns the most recently used idle connection, or nil.
func (p *Pool) Get() net.Conn {
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	p.mu.Unlock()
	return c
}

// Put returns c to the pool, or closes it when the pool is full or closed.
func (p *Pool) Put(c net.Conn) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= DefaultMaxIdle {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// Idle returns the number of idle connections.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close closes the idle connections; connections Put later are closed at
// once.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}
