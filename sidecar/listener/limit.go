package listener

import (
	"net"
	"sync/atomic"
	"syscall"
)

// fdReserve is the file descriptors kept out of the connection budget for
// listening sockets, the admin server, xDS streams, the Go runtime and
// logs. fdsPerConn is what one downstream connection may cost: its own
// socket, an upstream socket, and a share of idle pooled ones.
const (
	fdReserve  = 64
	fdsPerConn = 4
)

// FDConnLimit derives a bound on the connections open on all listeners
// from the process's RLIMIT_NOFILE, so that accepting stops before upstream
// dials can fail for want of file descriptors. It returns 0 (no bound)
// when the limit cannot be read or is effectively unlimited.
func FDConnLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<24 {
		return 0
	}
	return max(int(rl.Cur)-fdReserve, fdsPerConn) / fdsPerConn
}

// SetConnLimit bounds the connections open on all listeners together to n
// (0 for no bound). At the bound, listeners stop accepting, leaving new
// connections in the kernel's backlog, until a connection closes (as
// HAProxy's maxconn). It must be called before the first Reconcile.
func (m *Manager) SetConnLimit(n int) {
	m.slots = nil
	if n > 0 {
		m.slots = make(chan struct{}, n)
	}
}

// ConnLimit returns the bound set by SetConnLimit, 0 for none.
func (m *Manager) ConnLimit() int { return cap(m.slots) }

// acquire takes a connection slot, waiting while the listeners are at the
// bound, and reports false if e drains meanwhile.
func (m *Manager) acquire(e *entry) bool {
	if m.slots == nil {
		return true
	}
	select {
	case m.slots <- struct{}{}:
		return true
	default:
	}
	m.logger.Warn("downstream connection limit reached; accepts wait", "listener", *e.name.Load(), "limit", cap(m.slots))
	select {
	case m.slots <- struct{}{}:
		return true
	case <-e.ctx.Done():
		return false
	}
}

func (m *Manager) release() {
	if m.slots != nil {
		<-m.slots
	}
}

// limit wraps an accepted connection so that closing it frees its slot.
// A handler may hand the connection off (an idle HTTP connection parked
// without a goroutine), so the slot is freed on Close, not on return.
func (m *Manager) limit(c net.Conn) net.Conn {
	if m.slots == nil {
		return c
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		m.release() // not expected from a TCP listener: do not bound it
		return c
	}
	return &limitedConn{TCPConn: tc, slots: m.slots}
}

// limitedConn is a TCP connection holding a slot of the connection
// bound. Its other methods (SyscallConn, CloseWrite, ReadFrom) are those
// of *net.TCPConn.
type limitedConn struct {
	*net.TCPConn
	slots    chan struct{}
	released atomic.Bool
}

// Close closes the connection and frees its slot, once.
func (c *limitedConn) Close() error {
	err := c.TCPConn.Close()
	if c.released.CompareAndSwap(false, true) {
		<-c.slots
	}
	return err
}

// NetConn returns the underlying connection, for code that needs the
// concrete type (splice between two *net.TCPConn). Closing it does not
// free the slot: close the limitedConn.
func (c *limitedConn) NetConn() net.Conn { return c.TCPConn }
