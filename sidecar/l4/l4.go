// Package l4 is the TCP proxy: it relays each accepted connection to an
// endpoint of a cluster, with the kernel's splice between the sockets where
// both are TCP (io.Copy between *net.TCPConn).
package l4

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/internal/weighted"
	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Stats are a TCP listener's counters, named after Envoy's
// tcp.<stat_prefix>.* statistics.
type Stats struct {
	CxTotal      atomic.Uint64 // downstream_cx_total
	CxActive     atomic.Int64
	NoRoute      atomic.Uint64 // downstream_cx_no_route
	ConnectFail  atomic.Uint64 // upstream connection failures
	IdleTimeouts atomic.Uint64 // idle_timeout
}

// Target is one cluster a TCP listener relays to, with its share.
type Target struct {
	Cluster *cluster.Cluster // nil when the named cluster does not exist
	Name    string
}

// Config is one TCP listener's configuration in one snapshot. Immutable.
type Config struct {
	Listener    string
	Targets     []Target
	IdleTimeout time.Duration
	Stats       *Stats
	// AccessLog is the tcp_proxy's access logs; nil: none.
	AccessLog *accesslog.Set
	split     weighted.Split
}

// NewConfig returns a configuration relaying to targets, split by the
// given weights (one target: weight ignored).
func NewConfig(listener string, targets []Target, weights []uint32, idle time.Duration, stats *Stats) *Config {
	c := &Config{Listener: listener, IdleTimeout: idle, Stats: stats}
	for i, t := range targets {
		w := uint32(1)
		if i < len(weights) && weights[i] > 0 {
			w = weights[i]
		}
		c.split.Add(w)
		c.Targets = append(c.Targets, t)
	}
	return c
}

func (c *Config) pick() *Target { return &c.Targets[c.split.Pick()] }

// Server relays the connections of one listener. A connection uses the
// configuration current when it was accepted, for its whole life. Safe for
// concurrent use.
type Server struct {
	cfg    atomic.Pointer[Config]
	logger *slog.Logger
}

// NewServer returns a server with configuration cfg.
func NewServer(cfg *Config, logger *slog.Logger) *Server {
	s := &Server{logger: logger}
	s.cfg.Store(cfg)
	return s
}

// Update replaces the configuration for connections accepted from now on.
func (s *Server) Update(cfg *Config) { s.cfg.Store(cfg) }

// Config returns the configuration in force.
func (s *Server) Config() *Config { return s.cfg.Load() }

// maxConnectAttempts bounds the endpoints tried for one connection.
const maxConnectAttempts = 3

// ServeConn relays c to an upstream endpoint until both directions are
// done, and closes c. A draining listener (ctx done) does not cut relays
// in progress: TCP has no safe point to stop at.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	cfg := s.cfg.Load()
	cfg.Stats.CxTotal.Add(1)
	cfg.Stats.CxActive.Add(1)
	defer cfg.Stats.CxActive.Add(-1)
	var info *connInfo // nil: no access log
	if cfg.AccessLog != nil {
		info = newInfo(ctx, cfg.Listener, c)
		defer info.log(cfg)
	}
	t := cfg.pick()
	cl := t.Cluster
	if cl == nil {
		cfg.Stats.NoRoute.Add(1)
		info.flag(stream.NoClusterFound)
		return
	}
	info.cluster(t.Name)
	// max_connections: over it the connection is closed, as Envoy's
	// tcp_proxy does (upstream_cx_overflow).
	if !cl.Stats.Cx.Acquire(cl.Limits.MaxConnections) {
		cl.Stats.CxOverflow.Add(1)
		info.flag(stream.UpstreamOverflow)
		return
	}
	defer cl.Stats.Cx.Release()
	up, ep, flags := connect(cl)
	if up == nil {
		cfg.Stats.ConnectFail.Add(1)
		info.flag(flags)
		return
	}
	defer up.Close()
	ep.Inflight.Add(1)
	defer ep.Inflight.Add(-1)
	info.upstream(ep.Addr, up)
	fromClient, toClient := relay(unwrap(c), unwrap(up), cfg.IdleTimeout)
	info.bytes(fromClient, toClient)
}

// unwrap returns the connection under a wrapper that exposes it (the
// listener's connection-limit wrapper and the cluster's dialed connections
// do), so that both sides of a relay are *net.TCPConn and the kernel
// splices between them. The wrapper stays the one that is closed. A
// *tls.Conn is not unwrapped.
func unwrap(c net.Conn) net.Conn {
	if _, ok := c.(*tls.Conn); ok {
		return c // under it are the encrypted bytes
	}
	if u, ok := c.(interface{ NetConn() net.Conn }); ok {
		return u.NetConn()
	}
	return c
}

// connect dials an endpoint of cl, trying another one when a dial fails.
// Each attempt's outcome goes to the balancer: a TCP attempt ends when the
// connection is made or fails.
// On failure it returns the response flag that says why (UH or UF).
func connect(cl *cluster.Cluster) (net.Conn, *cluster.Endpoint, stream.Flags) {
	for range maxConnectAttempts {
		pk := cl.Pick(0)
		ep := pk.Endpoint
		if ep == nil {
			cl.Stats.NoHealthy.Add(1)
			return nil, nil, stream.NoHealthyUpstream
		}
		ep.Requests.Add(1)
		up, err := cl.Dial(ep, time.Time{})
		if err == nil {
			pk.Done(cluster.Outcome{})
			return up, ep, 0
		}
		pk.Done(cluster.Outcome{Failure: cluster.ConnectFailure})
	}
	return nil, nil, stream.UpstreamConnectionFailure
}

// relay copies both ways; when one direction ends it half-closes the other
// side's write, and returns when both are done, with the bytes copied to
// up and to down.
func relay(down, up net.Conn, idle time.Duration) (toUp, toDown int64) {
	var act *activity
	if idle > 0 {
		act = newActivity(idle)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		toUp = copyHalf(up, down, act)
	}()
	toDown = copyHalf(down, up, act)
	<-done
	return toUp, toDown
}

// copyHalf copies src to dst with splice, then half-closes dst, and
// returns the bytes copied. With an idle timeout (act not nil) the copy
// also ends when the connection idles.
func copyHalf(dst, src net.Conn, act *activity) int64 {
	var n int64
	if act == nil {
		n, _ = io.Copy(dst, src)
	} else {
		n = copyIdle(dst, src, dst, act)
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
	return n
}
