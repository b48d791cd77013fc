// Package h2up is the HTTP/2 upstream codec: a [forward.Exchange] per
// request on multiplexed connections pooled per endpoint (per address and
// transport key, in the endpoint's [cluster.Pool]).
//
// It is built on golang.org/x/net/http2's ClientConn, made with
// Transport.NewClientConn over the connection the cluster's transport
// dials: the ClientConn brings flow control in both directions, stream
// multiplexing under the server's SETTINGS_MAX_CONCURRENT_STREAMS, GOAWAY
// handling, trailers and the connection idle timeout, which a Framer and
// hpack client would have to rebuild. Its cost is one goroutine per
// request body and an *http.Request and header maps per request; the
// HTTP/1.1 path, which has none, is unchanged.
package h2up

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Open implements [forward.Config.Mux]: an exchange on a connection to ep
// with room for another stream, or on a new one dialed through cl's
// transport, and whether the connection was pooled. Safe for concurrent
// use.
func Open(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (forward.Exchange, bool, error) {
	p := ep.Pool.Mux(newPool).(*pool)
	c, reused, err := p.get(cl, ep, deadline)
	if err != nil {
		return nil, false, err
	}
	return newExchange(c), reused, nil
}

var _ func(*cluster.Cluster, *cluster.Endpoint, time.Time) (forward.Exchange, bool, error) = Open

// pool is the HTTP/2 connections to one endpoint. Safe for concurrent use;
// its lock is never held over I/O.
type pool struct {
	mu     sync.Mutex
	conns  []*conn
	closed bool
	// http1 is set while the endpoint's last new connection of an
	// auto_config cluster negotiated HTTP/1.1 by ALPN (see auto.go).
	http1 atomic.Bool
	// dialing is closed once the connection being dialed knows the
	// server's SETTINGS (or failed); nil when none is being dialed. New
	// requests wait for it rather than dial connections of their own.
	dialing chan struct{}
}

func newPool() cluster.MuxPool { return &pool{} }

// conn is one HTTP/2 connection with the counts Envoy's limits need.
type conn struct {
	cc       *http2.ClientConn
	active   atomic.Int32  // streams this codec has in flight on cc
	requests atomic.Uint32 // streams started on cc
	max      uint32        // max_requests_per_connection; 0: none
	retired  atomic.Bool   // its pool closed: it closes once idle
}

// get takes a stream slot on a pooled connection under the cluster's
// limits and the server's, or dials a new connection. While a connection
// is being dialed, requests wait for it (until deadline or the connect
// timeout) instead of dialing more, as Envoy's pool counts a connecting
// connection's streams as capacity.
func (p *pool) get(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (*conn, bool, error) {
	for {
		c, wait := p.reuse(cl)
		if c != nil {
			return c, true, nil
		}
		if wait == nil {
			break
		}
		if !waitDial(wait, cl, deadline) {
			break
		}
	}
	return p.dial(cl, ep, deadline)
}

// waitDial waits for a dial in progress, reporting false when the wait
// ran out first.
func waitDial(wait chan struct{}, cl *cluster.Cluster, deadline time.Time) bool {
	d := cl.ConnectTimeout
	if !deadline.IsZero() {
		d = min(d, time.Until(deadline))
	}
	if d <= 0 {
		d = time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wait:
		return true
	case <-t.C:
		return false
	}
}

// dial makes a new connection for one request. The request uses it at
// once; other requests may once the server's SETTINGS have arrived (a
// PING's answer follows them), so the server's stream limit is known.
func (p *pool) dial(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (*conn, bool, error) {
	p.mu.Lock()
	done := p.dialing
	if done == nil {
		done = make(chan struct{})
		p.dialing = done
	} else {
		done = nil // another dial is in progress: do not signal it
	}
	p.mu.Unlock()
	nc, err := cl.Dial(ep, deadline)
	if err != nil {
		p.published(done, nil)
		return nil, false, err
	}
	if cl.HTTP.Protocol == spec.UpstreamAuto && !negotiatedH2(nc) {
		p.published(done, nil)
		return nil, false, &http1Conn{nc}
	}
	cc, err := transport(cl).NewClientConn(nc)
	if err != nil {
		nc.Close()
		p.published(done, nil)
		return nil, false, fmt.Errorf("starting HTTP/2: %w", err)
	}
	c := &conn{cc: cc, max: cl.HTTP.MaxRequestsPerConnection}
	c.take()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), max(cl.ConnectTimeout, time.Second))
		defer cancel()
		cc.Ping(ctx) // a failure shows in CanTakeNewRequest
		p.published(done, c)
	}()
	return c, false, nil
}

// published adds c (if not nil) to the pool and ends the dial that done
// signals (if not nil).
func (p *pool) published(done chan struct{}, c *conn) {
	p.mu.Lock()
	closed := p.closed
	if c != nil && !closed {
		p.conns = append(p.conns, c)
	}
	if done != nil && p.dialing == done {
		p.dialing = nil
	}
	p.mu.Unlock()
	if done != nil {
		close(done)
	}
	if c != nil && closed {
		c.retire()
	}
}

// reuse returns a pooled connection with a stream slot taken, or else the
// dial to wait for (nil: none is in progress). It drops the connections
// that can take no new stream (closed, GOAWAY, past
// max_requests_per_connection, idle timeout).
func (p *pool) reuse(cl *cluster.Cluster) (*conn, chan struct{}) {
	maxStreams := int32(cl.HTTP.MaxConcurrentStreams)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < len(p.conns); {
		c := p.conns[i]
		if st := c.cc.State(); c.spent() || st.Closed || st.Closing {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			continue
		}
		i++
		if maxStreams > 0 && c.active.Load() >= maxStreams {
			continue
		}
		if c.cc.ReserveNewRequest() {
			c.take()
			return c, nil
		}
	}
	return nil, p.dialing
}

// take counts a stream started on c.
func (c *conn) take() {
	c.active.Add(1)
	c.requests.Add(1)
}

// spent reports whether c has carried max_requests_per_connection
// requests.
func (c *conn) spent() bool { return c.max > 0 && c.requests.Load() >= c.max }

// release ends a stream of c; the last stream of a draining connection
// closes it. A connection drains, as Envoy drains one, once it is spent
// (max_requests_per_connection streams started), retired (its pool
// closed) or told GOAWAY: reuse no longer hands it out, and the streams in
// flight finish on it. It is not marked do-not-reuse in x/net when it
// becomes spent or when a stream ends: x/net then fails a stream already
// reserved on it (ReserveNewRequest, before RoundTrip) with
// errClientConnUnusable, so this codec counts its own streams instead.
func (c *conn) release() {
	if c.active.Add(-1) == 0 && (c.spent() || c.retired.Load() || c.cc.State().Closing) {
		c.cc.Close()
	}
}

// retire makes c take no new stream and close once this codec has no
// stream on it (resets x/net still waits to see acknowledged do not
// hold it open).
func (c *conn) retire() {
	c.retired.Store(true)
	c.cc.SetDoNotReuse()
	if c.active.Load() == 0 {
		c.cc.Close()
	}
}

// Close implements [cluster.MuxPool]: the connections close once their
// streams in flight are done.
func (p *pool) Close() {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range conns {
		c.retire()
	}
}

// transport returns the x/net transport a new connection of cl is made
// with: the cluster's idle timeout closes it once idle that long.
func transport(cl *cluster.Cluster) *http2.Transport {
	return &http2.Transport{AllowHTTP: true, IdleConnTimeout: cl.IdleTimeout}
}
