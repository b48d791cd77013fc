// Package l7 is the HTTP/1 codec and server: it parses requests into the
// protocol-neutral [route.Request] and presents each as a
// [forward.Stream] to the codec-neutral forwarder (sidecar/forward), which
// routes and retries it; its upstream side is the HTTP/1 client codec the
// forwarder exchanges with through [forward.Exchange] over pooled
// keep-alive connections. Between the two HTTP/1 sides bodies move buffer
// to buffer (upstream.go finds the *session by type assertion).
//
// The HTTP/1 codec here is written for the proxy's hot path: no
// http.Request, no header map, no goroutine hand-off per request, and
// buffers taken from a pool only while a connection has bytes in flight.
// The codec's rules against request smuggling live in parse.go (framing
// headers, RFC 9112 6.3), target.go (request target and Host) and chunk.go
// (chunked framing, RFC 9112 7.1); the bounds on reading a head are in
// session.go (readHead).
package l7

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/forward"
)

// Stats are an HTTP listener's counters ([forward.Stats]).
type Stats = forward.Stats

// Config is one HTTP listener's configuration in one snapshot: the
// forwarder's, and the HTTP/1 codec's own. Immutable once published.
type Config struct {
	forward.Config
	// RequestHeadersTimeout bounds the time from the first byte of a
	// request head to its last; 0 for none. On expiry the client gets 408.
	RequestHeadersTimeout time.Duration
	// RequestTimeout bounds the time from the first byte of a request to
	// its last; 0 for none. On expiry the client gets 408 unless the
	// response has started.
	RequestTimeout time.Duration
	// AcceptHTTP10 admits HTTP/1.0 requests; without it they get 426, as
	// in Envoy. DefaultHostHTTP10 is the Host of an HTTP/1.0 request that
	// has none; without one such a request gets 400.
	AcceptHTTP10      bool
	DefaultHostHTTP10 []byte
}

// Server serves HTTP/1.1 on the connections of one listener. Its
// configuration can be replaced at any time; each request uses the
// configuration current when its head has been read. Safe for concurrent
// use.
type Server struct {
	cfg    atomic.Pointer[Config]
	logger *slog.Logger
	parker *Parker // nil: idle connections keep their goroutine
}

// NewServer returns a server with configuration cfg. With a parker, idle
// keep-alive connections are parked in it instead of holding a goroutine.
func NewServer(cfg *Config, logger *slog.Logger, parker *Parker) *Server {
	s := &Server{logger: logger, parker: parker}
	s.Update(cfg)
	return s
}

// Update replaces the configuration for requests that start from now on.
// A configuration without an upstream codec gets HTTP/1's, before it is
// published.
func (s *Server) Update(cfg *Config) {
	if cfg.Upstream == nil {
		cfg.Upstream = newExchange
	}
	s.cfg.Store(cfg)
}

// Config returns the configuration in force.
func (s *Server) Config() *Config { return s.cfg.Load() }

// ServeConn serves c until the client closes it, an error ends it, or ctx
// is done (the listener drains): then c is closed once its request in
// progress, if any, completes. c is closed in the end, possibly after
// ServeConn has returned: a connection parked while idle belongs to the
// Parker, which resumes it on a goroutine of its own.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	stats := s.cfg.Load().Stats
	stats.CxTotal.Add(1)
	stats.CxActive.Add(1)
	ss := newSession(s, c, ctx)
	ss.cxStats = stats
	ss.stop = context.AfterFunc(ctx, ss.interruptIdle)
	ss.run()
}

// resume serves a connection the Parker woke.
func (s *session) resume() { s.run() }
