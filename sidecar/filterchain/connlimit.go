package filterchain

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func init() { Register(connLimitBuilder{}) }

type connLimitBuilder struct{}

func (connLimitBuilder) TypeURL() string { return spec.ConnectionLimitType }

// Build returns a connection limit filter for a *spec.ConnectionLimit.
// Its counter is connection_limit.<stat_prefix>.limited_connections. The
// count of open connections carries over from env.Prev with the same stat
// prefix, so connections opened under the previous configuration still
// count after an update.
func (connLimitBuilder) Build(cfg any, env Env) (Filter, error) {
	c, ok := cfg.(*spec.ConnectionLimit)
	if !ok {
		return nil, fmt.Errorf("connection limit: configuration is %T, want *spec.ConnectionLimit", cfg)
	}
	if c.MaxConnections == 0 {
		return nil, fmt.Errorf("connection limit: max_connections must be positive")
	}
	f := &connLimit{max: int64(min(c.MaxConnections, 1<<62)), disabled: c.Disabled, prefix: c.StatPrefix,
		limited: env.Counter("connection_limit." + c.StatPrefix + ".limited_connections")}
	if prev, ok := env.Prev.(*connLimit); ok && prev.prefix == c.StatPrefix {
		f.active = prev.active
	} else {
		f.active = new(atomic.Int64)
	}
	return f, nil
}

// connLimit is Envoy's network connection limit filter: a connection that
// finds max connections of its chain open is closed at once and counted
// in connection_limit.<stat_prefix>.limited_connections; the others count
// until they close ([Tracker]).
type connLimit struct {
	max      int64
	disabled bool
	prefix   string
	active   *atomic.Int64
	limited  *atomic.Uint64
}

var _ Tracker = (*connLimit)(nil)

func (l *connLimit) OnNewConnection(net.Conn) Status {
	if l.disabled {
		return Continue
	}
	if l.active.Add(1) > l.max {
		l.active.Add(-1)
		l.limited.Add(1)
		return Close
	}
	return Continue
}

// Track returns c wrapped so that closing it releases its place.
func (l *connLimit) Track(c net.Conn) net.Conn {
	if l.disabled {
		return c
	}
	return onClose(c, func() { l.active.Add(-1) })
}

// onClose returns c wrapped to call release once, on its first Close. A
// TCP connection keeps its syscall.Conn, io.ReaderFrom, io.WriterTo and
// half-close methods (the parker parks by the socket, the TCP proxy
// splices).
func onClose(c net.Conn, release func()) net.Conn {
	if tc, ok := c.(tcpConn); ok {
		return &trackedTCP{tcpConn: tc, release: release}
	}
	return &trackedConn{Conn: c, release: release}
}

// tcpConn is what *net.TCPConn offers beyond net.Conn that the data plane
// uses.
type tcpConn interface {
	net.Conn
	syscall.Conn
	io.ReaderFrom
	io.WriterTo
	CloseWrite() error
	CloseRead() error
}

type trackedTCP struct {
	tcpConn
	release func()
	closed  atomic.Bool
}

func (c *trackedTCP) Close() error {
	err := c.tcpConn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.release()
	}
	return err
}

type trackedConn struct {
	net.Conn
	release func()
	closed  atomic.Bool
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.release()
	}
	return err
}

// SyscallConn is the wrapped connection's, if it has one.
func (c *trackedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
