package h2

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	sstream "github.com/meshlb/meshlb/sidecar/stream"
)

// stream is one HTTP/2 request as the forwarder sees it ([forward.Stream]),
// over x/net's ResponseWriter and Request. Streams are pooled: one is
// taken for each request and its buffers are reused.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	r   *http.Request
	cfg *Config
	req route.Request
	// arena holds the bytes req, peer and the trailers point into.
	arena []byte
	trail []route.Header
	peer  []byte
	conn  *sstream.Conn // the connection's facts; nil without a filter chain
	fs    forward.StreamState
	// recv and sent count body bytes read from and written to the client
	// (HPACK-compressed heads are not counted).
	recv, sent int64
	status     int
	hasBody    bool
	wroteHead  bool // a response head went out through WriteHead
	ended      bool // the response is complete (trailers written, or a local reply)
	grpc       bool // the request's content-type is application/grpc
	// armed is when the stream's read and write deadlines were last pushed
	// on; zero when the stream idle timeout is off. mu guards it: an
	// upstream codec may read the body on its own goroutine (h2up) while
	// the stream's goroutine writes the response.
	mu    sync.Mutex
	armed time.Time
}

var (
	_ forward.Stream     = (*stream)(nil)
	_ forward.ConnStream = (*stream)(nil)
)

var streams = sync.Pool{New: func() any { return new(stream) }}

// getStream returns a stream for r, answered through w, under cfg.
func getStream(w http.ResponseWriter, r *http.Request, cfg *Config) *stream {
	s := streams.Get().(*stream)
	arena, trail := s.arena[:0], s.trail[:0]
	hdrs := s.req.Headers[:0]
	*s = stream{w: w, r: r, cfg: cfg, arena: arena, trail: trail, conn: sstream.ConnFrom(r.Context()),
		rc: http.NewResponseController(w)}
	s.req.Headers = hdrs
	s.decodeHead()
	s.hasBody = r.ContentLength != 0
	if cfg.StreamIdle > 0 {
		s.armed = time.Now()
	}
	return s
}

// putStream returns s to the pool; s must not be used after.
func putStream(s *stream) {
	s.w, s.rc, s.r, s.cfg, s.conn = nil, nil, nil, nil, nil
	clear(s.req.Headers[:cap(s.req.Headers)])
	streams.Put(s)
}

// broken reports whether a response head went out and the response could
// not be completed: the stream must be reset, not ended.
func (s *stream) broken() bool {
	if !s.wroteHead || s.ended {
		return false
	}
	bodyless := s.r.Method == http.MethodHead || s.status == http.StatusNoContent || s.status == http.StatusNotModified
	return !bodyless
}

// Conn implements [forward.ConnStream].
func (s *stream) Conn() *sstream.Conn { return s.conn }

// Request implements [forward.Stream].
func (s *stream) Request() *route.Request { return &s.req }

// Framing implements [forward.Stream]. An HTTP/2 request has no
// connection-level framing: it never upgrades, never closes the
// connection, and x/net says 100 Continue itself when the body is first
// read.
func (s *stream) Framing() forward.Framing {
	return forward.Framing{HasBody: s.hasBody, Replayable: !s.hasBody && idempotent(s.r.Method),
		Head: s.r.Method == http.MethodHead, HTTP2: true}
}

// idempotent reports whether a request with method m can be sent again
// (RFC 9110 9.2.2), as the HTTP/1 codec decides.
func idempotent(m string) bool {
	switch m {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// Peer implements [forward.Stream].
func (s *stream) Peer() []byte { return s.peer }

// State implements [forward.Stream].
func (s *stream) State() *forward.StreamState { return &s.fs }

// Bytes implements [forward.Stream]: body bytes only.
func (s *stream) Bytes() (received, sent int64) { return s.recv, s.sent }

// CloseAfter implements [forward.Stream]. Nothing to do: a stream's
// unread body does not concern the connection; x/net resets the stream
// when the handler returns without having read it.
func (s *stream) CloseAfter() {}

// Wait implements [httpfilter.Waiter]: it waits d and returns false early
// when the client resets the stream or the connection ends, or once the
// stream idle timeout has passed (the request is then answered 408, as
// the HTTP/1 codec does).
func (s *stream) Wait(d time.Duration) bool {
	if idle := s.cfg.StreamIdle; idle > 0 && d > idle {
		if s.Wait(idle) {
			s.fs.MarkIdleTimeout()
		}
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.r.Context().Done():
		return false
	}
}

// WriteHead implements [forward.Stream]. Connection-specific fields,
// which HTTP/2 forbids (RFC 9113 8.2.2), are dropped; reason and closing
// have no place in HTTP/2.
func (s *stream) WriteHead(status int, _ []byte, headers []route.Header, _ bool) {
	s.fs.Info.Code, s.status, s.wroteHead = status, status, true
	h := s.w.Header()
	for _, f := range headers {
		if connectionSpecific(f.Name) {
			continue
		}
		k := string(f.Name)
		h[k] = append(h[k], string(f.Value))
	}
	s.w.WriteHeader(status)
}

// ReadBody implements [forward.Stream].
func (s *stream) ReadBody(p []byte) (int, error) {
	s.touch()
	n, err := s.r.Body.Read(p)
	s.recv += int64(n)
	if err != nil && err != io.EOF {
		return n, &forward.SourceError{Err: err}
	}
	return n, err
}

// Trailers implements [forward.Stream]. x/net keeps only the trailer
// fields the request declared in its Trailer header.
func (s *stream) Trailers(dst []route.Header) []route.Header {
	for k, vv := range s.r.Trailer {
		for _, v := range vv {
			dst = append(dst, route.Header{Name: lowerBytes(k), Value: []byte(v)})
		}
	}
	return dst
}

// WriteBody implements [forward.Stream].
func (s *stream) WriteBody(p []byte) error {
	s.touch()
	n, err := s.w.Write(p)
	s.sent += int64(n)
	return err
}

// WriteTrailers implements [forward.Stream]: the fields are sent in a
// HEADERS frame that ends the stream, when the handler returns.
func (s *stream) WriteTrailers(trailers []route.Header) error {
	h := s.w.Header()
	for _, t := range trailers {
		if connectionSpecific(t.Name) {
			continue
		}
		k := http.TrailerPrefix + string(t.Name)
		h[k] = append(h[k], string(t.Value))
	}
	s.ended = true
	return nil
}

// Flush implements [forward.Stream].
func (s *stream) Flush() error {
	s.touch()
	return s.rc.Flush()
}

// touch pushes the stream's read and write deadlines on when traffic
// flows, at most every half stream idle timeout (each push is a message
// to the connection's goroutine).
func (s *stream) touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armed.IsZero() {
		return
	}
	idle := s.cfg.StreamIdle
	now := time.Now()
	if now.Sub(s.armed) < idle/2 {
		return
	}
	s.armed = now
	d := now.Add(idle * 3 / 2)
	s.rc.SetReadDeadline(d)
	s.rc.SetWriteDeadline(d)
}

// connectionSpecific reports whether name is a field HTTP/2 forbids
// (RFC 9113 8.2.2). te is forbidden unless "trailers"; it is never a
// response field.
func connectionSpecific(name []byte) bool {
	switch len(name) {
	case 2:
		return equalFold(name, "te")
	case 7:
		return equalFold(name, "upgrade")
	case 10:
		return equalFold(name, "connection") || equalFold(name, "keep-alive")
	case 16:
		return equalFold(name, "proxy-connection")
	case 17:
		return equalFold(name, "transfer-encoding")
	}
	return false
}
