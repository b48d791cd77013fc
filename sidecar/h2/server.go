// Package h2 is the HTTP/2 server codec: it serves h2 (TLS, ALPN "h2")
// and h2c with prior knowledge, and presents each HTTP/2 stream to the
// codec-neutral forwarder (sidecar/forward) as a [forward.Stream], whose
// generic body path carries request and response bodies and trailers to
// whichever upstream codec the forwarder picks.
//
// The protocol is our own connection loop over golang.org/x/net/http2's
// Framer (frame parsing and its checks) and hpack's Decoder: one reader
// goroutine per connection runs the stream state machine (RFC 9113 5.1),
// SETTINGS, PING, GOAWAY, RST_STREAM and flow control in both directions,
// and each stream runs the forwarder on a goroutine of its own, which
// writes its frames straight into the connection's output buffer (the
// goroutine that finds the socket free writes what every stream queued,
// so concurrent responses share write calls). Request heads are decoded
// into the stream's arena; response heads are encoded without the
// dynamic table (literal fields, static-table names), so a request costs
// a few allocations and no http.Request, header map or goroutine hand-off.
// x/net's http2.Server cost 3.7-4.8x HAProxy's CPU per request (issue 11).
//
// Defences against abuse: a header block is bounded in encoded bytes and
// frames (CONTINUATION flood, CVE-2024-27316) and its decoded list is
// answered 431 beyond SETTINGS_MAX_HEADER_LIST_SIZE; streams beyond
// max_concurrent_streams are refused, and a client that resets (or gets
// refused) too many streams a second gets GOAWAY ENHANCE_YOUR_CALM (rapid
// reset, CVE-2023-44487); queued output is bounded, and every wait for the
// client (window, body, socket) ends at the stream idle timeout.
//
// [Auto] picks the codec of a connection for codec_type AUTO.
package h2

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// maxHeaderBytes bounds a request's header list (SETTINGS_MAX_HEADER_LIST_SIZE
// is advertised from it), as Envoy's max_request_headers_kb default of 60 KiB.
// A longer header list is answered 431.
const maxHeaderBytes = 60 << 10

// Defaults of http2_protocol_options, as x/net's server had them.
const (
	defaultMaxStreams = 250
	defaultWindow     = 1 << 20
)

// Config is one HTTP listener's configuration for its HTTP/2 connections.
// Immutable once published.
type Config struct {
	forward.Config
	// HTTP2 is the HCM's http2_protocol_options; zero fields take the
	// defaults (250 streams, 1 MiB windows).
	HTTP2 spec.HTTP2Options
}

// Server serves HTTP/2 on the connections of one listener. Its
// configuration can be replaced at any time: a connection takes its
// protocol settings from the configuration current when it was accepted,
// and each stream the forwarder's configuration current when it starts.
// Safe for concurrent use.
type Server struct {
	cfg    atomic.Pointer[Config]
	logger *slog.Logger
}

// NewServer returns a server with configuration cfg.
func NewServer(cfg *Config, logger *slog.Logger) *Server {
	s := &Server{logger: logger.With("component", "h2")}
	s.Update(cfg)
	return s
}

// Update replaces the configuration for connections and streams that
// start from now on.
func (s *Server) Update(cfg *Config) { s.cfg.Store(cfg) }

// Config returns the configuration in force.
func (s *Server) Config() *Config { return s.cfg.Load() }

// ServeConn serves HTTP/2 on c until the client closes it, an error or
// the idle timeout ends it, or ctx is done: then the client gets GOAWAY
// and c closes once the streams in progress complete. The client preface
// is read from c. c is closed, and every stream's goroutine has ended,
// when ServeConn returns.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	if ctx.Err() != nil {
		c.Close() // draining
		return
	}
	cfg := s.cfg.Load()
	stats := cfg.Stats
	stats.CxTotal.Add(1)
	stats.CxActive.Add(1)
	defer stats.CxActive.Add(-1)
	if !readPreface(c, cfg.StreamIdle) {
		lingerClose(c)
		return
	}
	cn := newConn(s, cfg, ctx, c)
	cn.serve()
}

// lingerClose closes c's write side first and reads what the client is
// still sending for a moment, so that closing does not reset the
// connection (the client sees the close, not a reset).
func lingerClose(c net.Conn) {
	defer c.Close()
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// readPreface reads the client preface from c within idle (0: no bound)
// and reports whether it was the HTTP/2 one. A connection that sends
// anything else is closed without a byte in answer (RFC 9113 3.4).
func readPreface(c net.Conn, idle time.Duration) bool {
	if idle > 0 {
		c.SetReadDeadline(time.Now().Add(idle))
		defer c.SetReadDeadline(time.Time{})
	}
	var buf [len(preface)]byte
	_, err := io.ReadFull(c, buf[:])
	return err == nil && string(buf[:]) == preface
}
