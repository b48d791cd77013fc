package l7

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
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
	s.rd.conn, s.out.conn = c, c
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		s.peer = []byte(a.IP.String())
	}
	return s
}

func (s *session) close() {
	s.conn.Close()
	s.rd.r, s.rd.w = 0, 0
	s.rd.release()
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

// awaitRequest waits, holding no buffer, until the client sends bytes.
func (s *session) awaitRequest(idle time.Duration) bool {
	if s.rd.buf != nil && s.rd.r < s.rd.w {
		return true // a pipelined request is already buffered
	}
	s.rd.release()
	s.out.release()
	s.dl.extend(s.conn, time.Now(), idle)
	if !s.state.CompareAndSwap(stateBusy, stateIdle) {
		return false
	}
	err := waitReadable(s.conn)
	if !s.state.CompareAndSwap(stateIdle, stateBusy) || err != nil {
		return false
	}
	s.rd.acquire()
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
	case errors.Is(err, os.ErrDeadlineExceeded) && s.rd.r < s.rd.w:
		s.respondError(408, "request head timeout")
	}
}

// peekByte is where waitReadable's MSG_PEEK lands; its value is never read.
var peekByte [1]byte

// waitReadable blocks until c has bytes to read (or EOF, or an error),
// without consuming them and without a read buffer.
func waitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	err = rc.Read(func(fd uintptr) bool {
		_, _, e := syscall.Recvfrom(int(fd), peekByte[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			return false
		}
		opErr = e
		return true
	})
	if err != nil {
		return err
	}
	return opErr
}
