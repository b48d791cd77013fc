package l7

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Session states. Exactly one party moves a session out of stateIdle or
// stateParked, by compare-and-swap: its goroutine, the parker, or the
// listener draining.
const (
	stateBusy    int32 = iota // serving a request
	stateIdle                 // waiting for a request on its goroutine
	stateParked               // waiting in the Parker, with no goroutine
	stateClosing              // being closed by whoever moved it here
)

// awaited is what waiting for a request came to.
type awaited int

const (
	awaitReady awaited = iota // bytes arrived
	awaitPark                 // quiet for ParkAfter: park it
	awaitClose                // close the connection
)

// session is one client connection.
type session struct {
	srv  *Server
	conn net.Conn
	rd   reader
	out  writer
	peer []byte // client IP, for X-Forwarded-For
	// reqState is the state of the request in progress; nil while the
	// connection is parked, so an idle connection does not hold it.
	*reqState
	// sconn is the connection as the filter chain describes it; nil
	// without one.
	sconn *stream.Conn
	state atomic.Int32
	ctx   context.Context // done when the listener drains
	stop  func() bool     // unregisters the drain callback
	fd    int32           // for the Parker; -1 if unknown
	// parkedAt is when the connection went quiet, set by the Parker.
	parkedAt time.Time
	// cxStats are the listener stats the connection counts in as active:
	// those in force when it was accepted, whatever the stat prefix later.
	cxStats *Stats
	// linger is set once the session answered a request whose input it
	// did not read whole: it closes gracefully, so the client reads the
	// answer instead of a reset.
	linger bool
}

// reqState is a session's per-request state. Sessions take one from
// requestPool when they start or wake and give it back when they park:
// idle keep-alive connections are what a proxy holds by the thousand.
type reqState struct {
	head reqHead
	// fs is the forwarder's state for the request in progress.
	fs forward.StreamState
	// headStart is when the head being read started to arrive, when it
	// took more than one read; else zero.
	headStart time.Time
	// rdBase and outBase are the byte counts when the request started.
	rdBase, outBase int64
	// body decodes the request body for the generic body path.
	body decoder
	// respChunked: the response head written says chunked.
	respChunked bool
}

var requestPool = sync.Pool{New: func() any { return new(reqState) }}

// takeRequest gives s a request state, if it has none.
func (s *session) takeRequest() {
	if s.reqState == nil {
		s.reqState = requestPool.Get().(*reqState)
	}
}

// dropRequest gives s's request state back; s must not use it again
// before takeRequest. The forwarder's clock reading is dropped with it,
// so no other session reads a stale one.
func (s *session) dropRequest() {
	s.fs.Now = time.Time{}
	requestPool.Put(s.reqState)
	s.reqState = nil
}

func newSession(srv *Server, c net.Conn, ctx context.Context) *session {
	s := &session{srv: srv, conn: c, ctx: ctx, fd: -1, sconn: stream.ConnFrom(ctx)}
	if srv.parker != nil {
		s.fd = parkFD(c)
	}
	s.rd.init(c)
	s.out.init(c)
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		s.peer = []byte(a.IP.String())
	}
	return s
}

// parkFD returns the socket c is parked by, or -1. A *tls.Conn is parked
// by its TCP socket: its Read fails with a deadline error only once it has
// no decrypted bytes left and needs more from the socket (the error is not
// sticky), so only a readable socket can move it on.
func parkFD(c net.Conn) int32 {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	fd := int32(-1)
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(u uintptr) { fd = int32(u) })
		}
	}
	return fd
}

func (s *session) close() {
	s.rd.drop()
	s.out.release()
	if s.linger {
		lingerClose(s.conn)
		return
	}
	s.conn.Close()
}

// interruptIdle closes the connection if it is waiting for a new request,
// so a draining listener does not wait for idle keep-alive clients. A busy
// session sees ctx done after its request.
func (s *session) interruptIdle() {
	if s.state.CompareAndSwap(stateIdle, stateClosing) {
		s.conn.SetReadDeadline(time.Unix(1, 0)) // its goroutine wakes and closes
		return
	}
	if s.state.CompareAndSwap(stateParked, stateClosing) {
		s.srv.parker.unpark(s)
		s.finish()
	}
}

// run serves requests until the connection must close, closing it, or
// until it is parked, leaving it to the Parker.
func (s *session) run() {
	s.takeRequest()
	for {
		switch s.awaitRequest() {
		case awaitClose:
			s.finish()
			return
		case awaitPark:
			if s.parkOrContinue() {
				return
			}
			continue
		}
		if err := s.readHead(); err != nil {
			s.failHead(err)
			s.finish()
			return
		}
		// The request uses the configuration current once its head is in.
		cfg := s.srv.cfg.Load()
		if !s.bodyless() {
			// The wait for a request may have armed the short ParkAfter
			// deadline; a body gets the stream idle timeout, and the
			// request timeout if any.
			s.rd.tm.set(cfg.StreamIdle, s.requestDeadline(cfg))
		}
		s.rdBase, s.outBase = s.rd.consumed, s.out.sent
		if !forward.Serve(&cfg.Config, s) || s.ctx.Err() != nil {
			s.finish()
			return
		}
	}
}

// parkOrContinue hands the session to the Parker and reports true when it
// no longer belongs to this goroutine: parked, or closed by a drain.
func (s *session) parkOrContinue() bool {
	// Once registered, s may be woken on another goroutine at once.
	s.dropRequest()
	s.state.Store(stateParked)
	if s.srv.parker.park(s) {
		return true
	}
	if !s.state.CompareAndSwap(stateParked, stateBusy) {
		return true
	}
	s.takeRequest()
	return false
}

// awaitRequest waits, holding no buffer, until the client sends bytes,
// and reads them.
func (s *session) awaitRequest() awaited {
	if len(s.rd.buffered()) > 0 {
		return awaitReady // a pipelined request is already buffered
	}
	s.rd.release()
	s.out.release()
	idle := s.srv.cfg.Load().StreamIdle
	wait := idle
	// With no idle timeout (0) a quiet connection is parked, never closed.
	parks := s.fd >= 0 && (idle <= 0 || s.srv.parker.After < idle)
	if parks {
		wait = s.srv.parker.After
	}
	s.out.idle = idle
	s.rd.tm.timed = false
	s.rd.tm.dl.extend(s.conn, s.clock(), wait)
	if !s.state.CompareAndSwap(stateBusy, stateIdle) {
		return awaitClose
	}
	err := s.rd.fill()
	if !s.state.CompareAndSwap(stateIdle, stateBusy) {
		return awaitClose
	}
	switch {
	case err == nil:
		s.out.acquire()
		return awaitReady
	case parks && errors.Is(err, os.ErrDeadlineExceeded) && s.ctx.Err() == nil:
		return awaitPark
	}
	return awaitClose
}

// clock returns the forwarder's reading of the clock at the end of the
// previous request, which nothing has blocked since, or reads the clock;
// the reading is used up either way.
func (s *session) clock() time.Time {
	now := s.fs.Now
	s.fs.Now = time.Time{}
	if now.IsZero() {
		now = time.Now()
	}
	return now
}

// finish closes the connection and ends the session. It runs once, by the
// party that moved the session to its end.
func (s *session) finish() {
	s.stop()
	s.close()
	s.cxStats.CxActive.Add(-1)
}

// readHead reads until a whole request head is buffered and parses it. A
// head that takes more than one read gets the stream idle timeout for
// each read, and must be complete within the request headers timeout and
// the request timeout (Envoy's request_headers_timeout and
// request_timeout; issue 7, item 2).
func (s *session) readHead() error {
	s.headStart = time.Time{}
	for {
		err := parseRequest(&s.head, s.rd.buffered())
		if err == nil && !s.head.http11 {
			cfg := s.srv.cfg.Load()
			return s.head.admitHTTP10(cfg.AcceptHTTP10, cfg.DefaultHostHTTP10)
		}
		if err != errIncomplete {
			return err
		}
		if s.headStart.IsZero() {
			cfg := s.srv.cfg.Load()
			s.headStart = time.Now()
			s.rd.tm.set(cfg.StreamIdle, earliest(s.headStart, cfg.RequestHeadersTimeout, cfg.RequestTimeout))
		}
		if err := s.rd.fill(); err != nil {
			return err
		}
	}
}

// requestDeadline is when the request must have been received whole
// under cfg's request timeout, or zero for none.
func (s *session) requestDeadline(cfg *Config) time.Time {
	if cfg.RequestTimeout <= 0 {
		return time.Time{}
	}
	start := s.headStart
	if start.IsZero() {
		start = time.Now()
	}
	return start.Add(cfg.RequestTimeout)
}

// earliest returns the earlier of start+a and start+b, ignoring timeouts
// that are not positive; zero if neither is.
func earliest(start time.Time, a, b time.Duration) time.Time {
	if a <= 0 || (b > 0 && b < a) {
		a = b
	}
	if a <= 0 {
		return time.Time{}
	}
	return start.Add(a)
}

// failHead answers a request whose head could not be read, when there is
// a client left to answer.
func (s *session) failHead(err error) {
	s.linger = true
	var se *statusError
	switch {
	case errors.As(err, &se):
		s.respondError(se.code, se.msg)
	case err == errHeadTooLarge:
		s.respondError(431, "request header too large")
	case errors.Is(err, os.ErrDeadlineExceeded) && len(s.rd.buffered()) > 0:
		s.respondError(408, "request head timeout")
	}
}
