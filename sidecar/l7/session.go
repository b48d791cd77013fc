package l7

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// Session states, for waking an idle connection when its listener drains.
const (
	stateBusy int32 = iota
	stateIdle
	stateClosing
)

// session is one client connection.
type session struct {
	srv   *Server
	conn  net.Conn
	rd    reader
	out   writer
	head  reqHead
	resp  respHead
	peer  []byte // client IP, for X-Forwarded-For
	dl    deadline
	state atomic.Int32
}

func newSession(srv *Server, c net.Conn) *session {
	s := &session{srv: srv, conn: c}
	s.rd.init(c)
	s.out.conn = c
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		s.peer = []byte(a.IP.String())
	}
	return s
}

func (s *session) close() {
	s.conn.Close()
	s.rd.drop()
	s.out.release()
}

// interruptIdle wakes the connection if it is waiting for a new request, so
// a draining listener does not wait for idle keep-alive clients.
func (s *session) interruptIdle() {
	if s.state.CompareAndSwap(stateIdle, stateClosing) {
		s.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// run serves requests until the connection must close.
func (s *session) run(ctx context.Context) {
	for {
		cfg := s.srv.cfg.Load()
		if !s.awaitRequest(cfg.StreamIdle) {
			return
		}
		err := s.readHead()
		if err != nil {
			s.failHead(err)
			return
		}
		if !s.serve(s.srv.cfg.Load()) || ctx.Err() != nil {
			return
		}
	}
}

// awaitRequest waits, holding no buffer, until the client sends bytes,
// and reads them.
func (s *session) awaitRequest(idle time.Duration) bool {
	if len(s.rd.buffered()) > 0 {
		return true // a pipelined request is already buffered
	}
	s.rd.release()
	s.out.release()
	s.dl.extend(s.conn, time.Now(), idle)
	if !s.state.CompareAndSwap(stateBusy, stateIdle) {
		return false
	}
	err := s.rd.fill()
	if !s.state.CompareAndSwap(stateIdle, stateBusy) || err != nil {
		return false
	}
	s.out.acquire()
	return true
}

// readHead reads until a whole request head is buffered and parses it.
func (s *session) readHead() error {
	for {
		err := parseRequest(&s.head, s.rd.buffered())
		if err != errIncomplete {
			return err
		}
		if err := s.rd.fill(); err != nil {
			return err
		}
	}
}

// failHead answers a request whose head could not be read, when there is
// a client left to answer.
func (s *session) failHead(err error) {
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
