// Package h2 is the HTTP/2 server codec: it serves h2 (TLS, ALPN "h2")
// and h2c with prior knowledge, and presents each HTTP/2 stream to the
// codec-neutral forwarder (sidecar/forward) as a [forward.Stream], whose
// generic body path carries request and response bodies and trailers to
// whichever upstream codec the forwarder picks (HTTP/1 today: HTTP/2
// downstream is translated to HTTP/1.1 upstream).
//
// The protocol itself is golang.org/x/net/http2's Server: framing, HPACK,
// flow control in both directions, SETTINGS, GOAWAY, RST_STREAM and its
// defences against abuse (rapid reset, CVE-2023-44487: at most
// MaxConcurrentStreams handlers plus a small queue; CONTINUATION floods,
// CVE-2024-27316: a header block is bounded by the advertised header list
// size, 431 beyond it). It costs a goroutine, an http.Request and a header
// map per stream, which a hand-written Framer loop would not; that is the
// price of correctness proven by h2spec and fuzzing (see the commit that
// added this package).
//
// [Auto] picks the codec of a connection for codec_type AUTO.
package h2

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/spec"
	sstream "github.com/meshlb/meshlb/sidecar/stream"
)

// maxHeaderBytes bounds a request's header list (SETTINGS_MAX_HEADER_LIST_SIZE
// is advertised from it), as Envoy's max_request_headers_kb default of 60 KiB.
// A longer header block is answered 431 without being decoded whole.
const maxHeaderBytes = 60 << 10

// Config is one HTTP listener's configuration for its HTTP/2 connections.
// Immutable once published.
type Config struct {
	forward.Config
	// HTTP2 is the HCM's http2_protocol_options; zero fields take
	// x/net/http2's defaults (250 streams, 1 MiB windows).
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
	mu     sync.Mutex
	groups map[groupKey]*group // guarded by mu
}

// NewServer returns a server with configuration cfg.
func NewServer(cfg *Config, logger *slog.Logger) *Server {
	s := &Server{logger: logger.With("component", "h2"), groups: map[groupKey]*group{}}
	s.Update(cfg)
	return s
}

// Update replaces the configuration for connections and streams that
// start from now on.
func (s *Server) Update(cfg *Config) { s.cfg.Store(cfg) }

// Config returns the configuration in force.
func (s *Server) Config() *Config { return s.cfg.Load() }

// group is the x/net server for the connections that share a drain
// context and protocol settings: when the context is done (the listener
// drains), each of its connections is sent GOAWAY and closes once its
// streams are done.
type group struct {
	key   groupKey
	hs    *http.Server
	h2    *http2.Server
	conns int         // connections being served; guarded by Server.mu
	stop  func() bool // unregisters the drain callback
}

type groupKey struct {
	ctx  context.Context
	p    spec.HTTP2Options
	idle time.Duration
}

// ServeConn serves HTTP/2 on c until the client closes it, an error or
// the idle timeout ends it, or ctx is done: then the client gets GOAWAY
// and c closes once the streams in progress complete. The client preface
// is read from c. c is closed when ServeConn returns.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	if ctx.Err() != nil {
		c.Close() // draining: the GOAWAY of its group has gone
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
	// Connections share a group by their listener's context, not their
	// own (which carries the connection's facts).
	g := s.join(groupKey{ctx: sstream.ListenerContext(ctx), p: cfg.HTTP2, idle: cfg.StreamIdle})
	defer s.leave(g)
	g.h2.ServeConn(c, &http2.ServeConnOpts{Context: ctx, BaseConfig: g.hs, Handler: s, SawClientPreface: true})
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
// anything else is closed without a byte in answer (RFC 9113 3.4; x/net
// would answer it as HTTP/1).
func readPreface(c net.Conn, idle time.Duration) bool {
	if idle > 0 {
		c.SetReadDeadline(time.Now().Add(idle))
		defer c.SetReadDeadline(time.Time{})
	}
	var buf [len(preface)]byte
	_, err := io.ReadFull(c, buf[:])
	return err == nil && string(buf[:]) == preface
}

func (s *Server) join(k groupKey) *group {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[k]
	if g == nil {
		g = s.newGroup(k)
		s.groups[k] = g
	}
	g.conns++
	return g
}

func (s *Server) leave(g *group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.conns--; g.conns == 0 {
		delete(s.groups, g.key)
		g.stop()
	}
}

// newGroup makes the x/net server for k's settings. A stream's reads and
// writes are bounded by the stream idle timeout: ReadTimeout and
// WriteTimeout arm them per stream at 1.5 times the timeout, and a stream
// with traffic pushes them on (see stream.touch), so a quiet stream ends
// between one and 1.5 times the timeout after its last byte.
func (s *Server) newGroup(k groupKey) *group {
	hs := &http.Server{
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	if k.idle > 0 {
		hs.ReadTimeout, hs.WriteTimeout = k.idle*3/2, k.idle*3/2
	}
	h := &http2.Server{
		MaxConcurrentStreams:         k.p.MaxConcurrentStreams,
		MaxUploadBufferPerStream:     int32(k.p.InitialStreamWindowSize),
		MaxUploadBufferPerConnection: int32(k.p.InitialConnectionWindowSize),
		IdleTimeout:                  k.idle,
		// The protocol's initial SETTINGS_MAX_FRAME_SIZE, as Envoy: x/net
		// would advertise 1 MiB.
		MaxReadFrameSize: 16 << 10,
	}
	// ConfigureServer registers the graceful shutdown of h's connections
	// on hs; it fails only for TLS settings hs does not have.
	if err := http2.ConfigureServer(hs, h); err != nil {
		panic("h2: configuring the x/net server: " + err.Error())
	}
	g := &group{key: k, hs: hs, h2: h}
	g.stop = context.AfterFunc(k.ctx, func() { hs.Shutdown(context.Background()) })
	return g
}

// ServeHTTP serves one HTTP/2 stream, which x/net runs on a goroutine of
// its own: it presents the stream to the forwarder. A response that
// started but could not be completed is reset (RST_STREAM INTERNAL_ERROR)
// rather than ended, so the client cannot take it for whole.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Load()
	st := getStream(w, r, cfg)
	if r.Method == http.MethodConnect {
		st.Reply(forward.LocalReply{Code: http.StatusForbidden, Body: "CONNECT is not allowed (allow_connect)\n"})
	} else {
		forward.Serve(&cfg.Config, st)
	}
	broken := st.broken()
	putStream(st)
	if broken {
		panic(http.ErrAbortHandler)
	}
}
