package l7

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// reader is a minimal buffered reader over a connection, written for the
// proxy's syscall budget:
//
//   - Its buffer comes from a pool only while bytes are buffered or being
//     read, so an idle keep-alive connection pins no buffer.
//   - It reads through syscall.RawConn, taking the buffer only once the
//     read is about to be issued and giving it back if the read would
//     block, so waiting for a request costs no extra syscall (a MSG_PEEK
//     wait would cost one per request). Parking before the first read is
//     not safe: the poller forgets readiness when a read is prepared
//     (internal/poll's prepareRead resets it), and with edge-triggered
//     epoll that wakeup would be lost.
//   - Unlike bufio.Reader it moves bytes only in fill, so slices of
//     buffered() stay valid until the next fill.
//
// A reader must not be copied after first use.
type reader struct {
	conn net.Conn
	rc   syscall.RawConn // nil: fall back to conn.Read
	buf  *[]byte
	r, w int
	got  bool // at least one byte was ever read
	// consumed counts the bytes discarded, for stream info.
	consumed int64
	n        int
	err      error
	readFn   func(fd uintptr) bool
	// tm bounds each fill while it is timed.
	tm timeouts
}

// init binds the reader to c.
func (rd *reader) init(c net.Conn) {
	rd.conn = c
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rd.rc = rc
			rd.readFn = rd.readRaw
		}
	}
}

// release returns the buffer to the pool if nothing is buffered.
func (rd *reader) release() {
	if rd.buf != nil && rd.r == rd.w {
		putBuf(rd.buf)
		rd.buf, rd.r, rd.w = nil, 0, 0
	}
}

// drop forgets buffered bytes and returns the buffer.
func (rd *reader) drop() {
	rd.r, rd.w = 0, 0
	rd.release()
}

// buffered returns the unread bytes.
func (rd *reader) buffered() []byte {
	if rd.buf == nil {
		return nil
	}
	return (*rd.buf)[rd.r:rd.w]
}

// discard consumes n buffered bytes.
func (rd *reader) discard(n int) {
	rd.r += n
	rd.consumed += int64(n)
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
}

// fill reads at least one more byte, moving unread bytes to the front of
// the buffer first if there is no room after them. It returns
// errHeadTooLarge when the buffer is full of unread bytes, and io.EOF at
// the end of the stream.
func (rd *reader) fill() error {
	if rd.buf != nil && rd.w == len(*rd.buf) {
		if rd.r == 0 {
			return errHeadTooLarge
		}
		rd.w = copy(*rd.buf, (*rd.buf)[rd.r:rd.w])
		rd.r = 0
	}
	if rd.tm.timed {
		rd.tm.arm(rd.conn)
	}
	err := rd.read()
	if rd.tm.timed && rd.tm.refire(rd.conn, err) {
		err = rd.read()
	}
	return err
}

// read reads what the connection has, at least one byte.
func (rd *reader) read() error {
	if rd.rc == nil {
		return rd.fillConn()
	}
	rd.n, rd.err = 0, nil
	if err := rd.rc.Read(rd.readFn); err != nil {
		return err
	}
	return rd.err
}

// readRaw is called by the runtime poller; it returns false to wait for
// readability.
func (rd *reader) readRaw(fd uintptr) bool {
	if rd.buf == nil {
		rd.buf = getBuf()
	}
	space := (*rd.buf)[rd.w:]
	n, err := syscall.Read(int(fd), space)
	switch {
	case err == syscall.EAGAIN:
		rd.release() // wait without holding a buffer
		return false
	case err == syscall.EINTR:
		return rd.readRaw(fd)
	case err != nil:
		rd.err = err
	case n == 0:
		rd.err = io.EOF
	default:
		rd.w += n
		rd.got = true
	}
	return true
}

func (rd *reader) fillConn() error {
	if rd.buf == nil {
		rd.buf = getBuf()
	}
	n, err := rd.conn.Read((*rd.buf)[rd.w:])
	rd.w += n
	if n > 0 {
		rd.got = true
		return nil
	}
	// A read that got nothing (a TLS connection's wait for a request ran
	// into the park deadline, most often) gives the buffer back if it
	// holds nothing: a parked connection must not pin 16 KiB.
	rd.release()
	if err == nil {
		err = errors.New("read returned no bytes")
	}
	return err
}
