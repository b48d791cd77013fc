package cluster

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport makes a cluster's upstream connections: the one place the data
// plane dials or handshakes upstream, for L4 and L7 alike (Envoy's
// TransportSocketFactory, Caddy's TLSTransport). Implementations are safe
// for concurrent use.
type Transport interface {
	// Dial connects to addr, including any handshake, until ctx is done.
	Dial(ctx context.Context, addr string) (net.Conn, error)
	// Key names everything that makes this transport's connections not
	// interchangeable with another's: "raw" for plaintext, later e.g.
	// "tls|sni=..|alpn=..|cert=<hash>". Two transports with equal keys must
	// make connections that either may use. Pools and per-endpoint state
	// are keyed by (address, Key).
	Key() string
}

// Plain is the plaintext TCP transport, the default when a cluster has no
// transport socket. Its key is "raw".
var Plain Transport = plain{}

type plain struct{}

func (plain) Key() string { return "raw" }

func (plain) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

var _ Transport = plain{}

// Dial connects to ep through the transport its state is keyed by, within
// the cluster's connect timeout and before deadline (zero for none). It is
// the only upstream dial path: it counts upstream_cx_total,
// upstream_cx_connect_fail and the endpoint's ConnectFailures, and the
// connection it returns counts in upstream_cx_active until it is first
// closed. The connection exposes the transport's connection with NetConn
// (for splice), and SyscallConn when that one has it.
func (c *Cluster) Dial(ep *Endpoint, deadline time.Time) (net.Conn, error) {
	ctx := context.Background()
	if c.ConnectTimeout > 0 {
		if d := time.Now().Add(c.ConnectTimeout); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	start := time.Now()
	conn, err := ep.transport().Dial(ctx, ep.Addr)
	c.Stats.CxConnectMs.Record(time.Since(start))
	if err != nil {
		ep.ConnectFailures.Add(1)
		c.Stats.CxConnectFail.Add(1)
		return nil, err
	}
	c.Stats.CxTotal.Add(1)
	c.Stats.CxActive.Add(1)
	cc := &countedConn{Conn: conn, active: &c.Stats.CxActive}
	if _, ok := conn.(syscall.Conn); ok {
		return rawConn{cc}, nil
	}
	return cc, nil
}

// countedConn is an upstream connection counted in upstream_cx_active
// until its first Close.
type countedConn struct {
	net.Conn
	active *atomic.Int64
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.active.Add(-1)
	}
	return c.Conn.Close()
}

// NetConn returns the transport's connection, as [tls.Conn.NetConn] does.
func (c *countedConn) NetConn() net.Conn { return c.Conn }

// rawConn is a countedConn whose connection gives access to its socket, so
// readers can wait for readiness without a goroutine per read.
type rawConn struct{ *countedConn }

func (c rawConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// DialCheck connects to ep through its transport for an active health
// check, until ctx is done. It counts in no cluster statistic: as in
// Envoy, health-check connections are not upstream connections.
func DialCheck(ctx context.Context, ep *State) (net.Conn, error) {
	return ep.transport().Dial(ctx, ep.Addr)
}
