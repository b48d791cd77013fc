package h2

import (
	"io"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	sstream "github.com/meshlb/meshlb/sidecar/stream"
)

// stream is one HTTP/2 request as the forwarder sees it ([forward.Stream]).
// Streams are pooled: one is taken for each request and its buffers are
// reused. The fields above the line are the stream goroutine's (and the
// reader's while it decodes the head, before the goroutine starts); those
// below are guarded by the connection's mu.
type stream struct {
	c   *conn
	id  uint32
	cfg *Config
	req route.Request
	// arena holds the bytes of the request head; tarena those of its
	// trailers; spans the fields' places in it while it is decoded.
	arena, tarena []byte
	spans         []span
	ps            [numPseudo]span
	psSeen        uint8 // bit i: pseudo-header i seen
	host          span
	hasHost       bool
	trail         []route.Header
	fs            forward.StreamState
	recvd, sent   int64 // body bytes read and written
	status        int
	hasBody       bool
	head          bool // a HEAD request
	grpc          bool // content-type application/grpc
	plainConnect  bool // CONNECT without :protocol
	extConnect    bool // extended CONNECT (RFC 8441): an upgrade
	continue100   bool // expect: 100-continue not yet answered
	wroteHead     bool // a response head was written or is pending
	headPending   bool // hbuf holds the response head, not yet queued
	ended         bool // the response is complete
	pending       []byte
	pendOff       int
	hbuf          []byte // a header block being encoded
	// rw and ww wake the goroutine that reads the body and the one that
	// writes the response (an upstream codec may read on a goroutine of
	// its own, and a tunnel does).
	rw, ww waiter
	// ---- guarded by c.mu
	rst              bool // reset, by either side or the connection's end
	decoding         bool // the reader decodes trailers into the stream
	released         bool // the stream ended while decoding: the reader puts it back
	rstCode          http2.ErrCode
	remoteDone       bool // the client ended its side (END_STREAM)
	localDone        bool // this side sent END_STREAM
	in               []byte
	inOff            int
	sendWin, recvWin int32
	unacked          int32 // body bytes read, not yet given back to the stream window
	got, cl          int64 // body bytes received; content-length (-1: none)
}

// span is a field's place in an arena while it is being filled (the
// arena may move as it grows).
type span struct{ from, to int }

var (
	_ forward.Stream     = (*stream)(nil)
	_ forward.ConnStream = (*stream)(nil)
)

var streams = sync.Pool{New: func() any { return &stream{rw: newWaiter(), ww: newWaiter()} }}

// getStream returns a stream of c with id, its buffers kept from an
// earlier use.
func getStream(c *conn, id uint32) *stream {
	s := streams.Get().(*stream)
	s.rw.reset()
	s.ww.reset()
	*s = stream{c: c, id: id, arena: s.arena[:0], tarena: s.tarena[:0], spans: s.spans[:0], trail: s.trail[:0],
		pending: s.pending[:0], hbuf: s.hbuf[:0], in: s.in[:0], rw: s.rw, ww: s.ww, cl: -1,
		req: route.Request{Headers: s.req.Headers[:0]}, fs: s.fs}
	return s
}

// putStream returns s to the pool; s must not be used after. Buffers
// grown large are dropped rather than pinned.
func putStream(s *stream) {
	s.c, s.cfg = nil, nil
	clear(s.req.Headers[:cap(s.req.Headers)])
	clear(s.trail[:cap(s.trail)])
	if cap(s.in) > 64<<10 {
		s.in = nil
	}
	if cap(s.pending) > 64<<10 {
		s.pending = nil
	}
	streams.Put(s)
}

// signal wakes the stream's goroutines if they wait.
func (s *stream) signal() {
	s.rw.signal()
	s.ww.signal()
}

// waiter is where one goroutine of a stream waits: for a signal, or the
// idle timeout. Kept with the pooled stream.
type waiter struct {
	sig   chan struct{} // cap 1
	timer *time.Timer
}

func newWaiter() waiter { return waiter{sig: make(chan struct{}, 1)} }

func (w *waiter) signal() {
	select {
	case w.sig <- struct{}{}:
	default:
	}
}

// reset forgets a signal left from an earlier use.
func (w *waiter) reset() {
	select {
	case <-w.sig:
	default:
	}
}

// await waits for a signal, other (nil: none) or idle (0: no bound);
// false: the timeout.
func (w *waiter) await(idle time.Duration, other <-chan struct{}) bool {
	if idle <= 0 {
		select {
		case <-w.sig:
		case <-other:
		}
		return true
	}
	if w.timer == nil {
		w.timer = time.NewTimer(idle)
	} else {
		w.timer.Reset(idle)
	}
	defer w.timer.Stop()
	select {
	case <-w.sig:
		return true
	case <-other:
		return true
	case <-w.timer.C:
		return false
	}
}

// broken reports whether a response head went out and the response could
// not be completed: the stream must be reset, not ended.
func (s *stream) broken() bool {
	if s.ended {
		return false
	}
	if !s.wroteHead {
		return true
	}
	bodyless := s.head || s.status == 204 || s.status == 304
	return !bodyless
}

// Conn implements [forward.ConnStream].
func (s *stream) Conn() *sstream.Conn { return s.c.sc }

// Request implements [forward.Stream].
func (s *stream) Request() *route.Request { return &s.req }

// Framing implements [forward.Stream]. An HTTP/2 request has no
// connection-level framing: it never closes the connection, and the
// server says 100 Continue itself when the body is first read.
//
// An extended CONNECT (RFC 8441) is presented as Envoy's codec presents
// it: a GET asking to upgrade to its :protocol, without a body (what the
// client sends after the 2xx is the tunnel's).
func (s *stream) Framing() forward.Framing {
	if s.extConnect {
		return forward.Framing{Upgrade: true, UpgradeType: s.cut(s.ps[pProtocol]), HTTP2: true}
	}
	return forward.Framing{HasBody: s.hasBody, Replayable: !s.hasBody && idempotent(s.req.Method),
		Head: s.head, HTTP2: true}
}

// AbortBody ends the request body from another goroutine: the stream is
// reset (CANCEL) and a ReadBody waiting returns. A tunnel calls it when
// its upstream side has ended and the client's has not in time.
func (s *stream) AbortBody() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.rst {
		s.rst, s.rstCode = true, http2.ErrCodeCancel
		c.writeRST(s.id, http2.ErrCodeCancel)
		c.flushLocked()
	}
	s.signal()
}

// idempotent reports whether a request with method m can be sent again
// (RFC 9110 9.2.2), as the HTTP/1 codec decides.
func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// Peer implements [forward.Stream].
func (s *stream) Peer() []byte { return s.c.peer }

// State implements [forward.Stream].
func (s *stream) State() *forward.StreamState { return &s.fs }

// Bytes implements [forward.Stream]: body bytes only.
func (s *stream) Bytes() (received, sent int64) { return s.recvd, s.sent }

// CloseAfter implements [forward.Stream]. Nothing to do: a stream's
// unread body does not concern the connection; the stream is reset with
// NO_ERROR when it ends before the client's side.
func (s *stream) CloseAfter() {}

// Wait implements [httpfilter.Waiter]: it waits d and returns false early
// when the client resets the stream or the connection ends, or once the
// stream idle timeout has passed (the request is then answered 408, as
// the HTTP/1 codec does).
func (s *stream) Wait(d time.Duration) bool {
	if idle := s.c.idle; idle > 0 && d > idle {
		if s.Wait(idle) {
			s.fs.MarkIdleTimeout()
		}
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-s.ww.sig:
			s.c.mu.Lock()
			rst := s.rst
			s.c.mu.Unlock()
			if rst {
				return false
			}
		}
	}
}

// ReadBody implements [forward.Stream]. Bytes read go back to the
// client's windows.
func (s *stream) ReadBody(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	for {
		if s.inOff < len(s.in) {
			n := copy(p, s.in[s.inOff:])
			if s.inOff += n; s.inOff == len(s.in) {
				s.in, s.inOff = s.in[:0], 0
			}
			s.recvd += int64(n)
			if c.consumedLocked(s, int32(n)) {
				c.flushLocked()
			}
			c.mu.Unlock()
			return n, nil
		}
		switch {
		case s.rst:
			c.mu.Unlock()
			return 0, &forward.SourceError{Err: errStreamReset}
		case s.remoteDone:
			c.mu.Unlock()
			return 0, io.EOF
		case s.continue100:
			s.continue100 = false
			var b [4]byte
			c.writeHeaders(s.id, appendStatus(b[:0], 100), false)
			c.flushLocked()
		}
		c.mu.Unlock()
		if !s.rw.await(c.idle, nil) {
			return 0, &forward.SourceError{Err: errIdle}
		}
		c.mu.Lock()
	}
}

// Trailers implements [forward.Stream].
func (s *stream) Trailers(dst []route.Header) []route.Header { return append(dst, s.trail...) }

// WriteHead implements [forward.Stream]. Connection-specific fields,
// which HTTP/2 forbids (RFC 9113 8.2.2), are dropped; reason and closing
// have no place in HTTP/2. The head waits for the body's first frame or
// the stream's end, so that a response that ends with its head (gRPC's
// trailers-only) is one HEADERS frame with END_STREAM.
//
// To an extended CONNECT, an upstream's 101 is the tunnel's 200 (RFC 8441
// 5), without the HTTP/1.1 handshake's Sec-WebSocket-Accept.
func (s *stream) WriteHead(status int, _ []byte, headers []route.Header, _ bool) {
	s.fs.Info.Code, s.status, s.wroteHead = status, status, true
	if s.extConnect && status == 101 {
		status = 200
	}
	b := appendStatus(s.hbuf[:0], status)
	for _, f := range headers {
		if !connectionSpecific(f.Name) && !(s.extConnect && ascii.EqualFoldLower(f.Name, "sec-websocket-accept")) {
			b = appendField(b, f.Name, f.Value)
		}
	}
	s.hbuf = b
	s.headPending = true
}

// queueHeaders queues a header block on the stream; end ends it.
func (s *stream) queueHeaders(block []byte, end bool) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.rst {
		return
	}
	c.writeHeaders(s.id, block, end)
	if end {
		s.localDone = true
	}
}

// WriteBody implements [forward.Stream]: the bytes are framed as DATA
// once a frame's worth is pending, or on Flush.
func (s *stream) WriteBody(p []byte) error {
	s.sent += int64(len(p))
	s.pending = append(s.pending, p...)
	if len(s.pending)-s.pendOff < 64<<10 {
		return nil
	}
	return s.emit(false)
}

// WriteTrailers implements [forward.Stream]: the last DATA frame ends the
// stream, or a HEADERS frame with the trailer fields does.
func (s *stream) WriteTrailers(trailers []route.Header) error {
	s.ended = true
	if len(trailers) == 0 {
		return s.emit(true)
	}
	if err := s.emit(false); err != nil {
		return err
	}
	b := s.hbuf[:0]
	for _, t := range trailers {
		if !connectionSpecific(t.Name) {
			b = appendField(b, t.Name, t.Value)
		}
	}
	s.hbuf = b
	if len(b) == 0 {
		return s.emit(true)
	}
	s.queueHeaders(b, true)
	return nil
}

// Flush implements [forward.Stream].
func (s *stream) Flush() error {
	if err := s.emit(false); err != nil {
		return err
	}
	return s.c.flushBatched()
}
