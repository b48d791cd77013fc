package l7

import (
	"errors"
	"net"
	"sync"
	"time"
)

// bufSize is the size of every pooled buffer, and so the largest request or
// response head accepted (HAProxy's tune.bufsize default).
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// errHeadTooLarge is returned by fill when the buffer is full.
var errHeadTooLarge = errors.New("head larger than buffer")

// reader is a minimal buffered reader over a connection whose buffer is
// taken from a pool only while there are bytes to hold, so an idle
// connection pins no buffer. Unlike bufio.Reader it never moves bytes
// except in fill, so slices of buffered() stay valid until the next fill.
type reader struct {
	conn net.Conn
	buf  *[]byte
	r, w int
}

// acquire makes sure the reader has a buffer.
func (rd *reader) acquire() {
	if rd.buf == nil {
		rd.buf = getBuf()
	}
}

// release returns the buffer to the pool if nothing is buffered.
func (rd *reader) release() {
	if rd.buf != nil && rd.r == rd.w {
		putBuf(rd.buf)
		rd.buf, rd.r, rd.w = nil, 0, 0
	}
}

// buffered returns the unread bytes.
func (rd *reader) buffered() []byte { return (*rd.buf)[rd.r:rd.w] }

// discard consumes n buffered bytes.
func (rd *reader) discard(n int) {
	rd.r += n
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
}

// fill reads at least one more byte, moving unread bytes to the front of
// the buffer first if there is no room after them. It returns
// errHeadTooLarge when the buffer is full of unread bytes.
func (rd *reader) fill() error {
	b := *rd.buf
	if rd.w == len(b) {
		if rd.r == 0 {
			return errHeadTooLarge
		}
		rd.w = copy(b, b[rd.r:rd.w])
		rd.r = 0
	}
	n, err := rd.conn.Read(b[rd.w:])
	rd.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = errors.New("read returned no bytes")
	}
	return err
}

// writer batches writes to a connection in a pooled buffer.
type writer struct {
	conn net.Conn
	buf  []byte // nil when released; len is the pending bytes
	pb   *[]byte
}

func (w *writer) acquire() {
	if w.pb == nil {
		w.pb = getBuf()
		w.buf = (*w.pb)[:0]
	}
}

func (w *writer) release() {
	if w.pb != nil {
		putBuf(w.pb)
		w.pb, w.buf = nil, nil
	}
}

// write queues p, flushing first if it does not fit.
func (w *writer) write(p []byte) error {
	if len(w.buf)+len(p) > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
		if len(p) > cap(w.buf) {
			_, err := w.conn.Write(p)
			return err
		}
	}
	w.buf = append(w.buf, p...)
	return nil
}

// flush writes the queued bytes.
func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.conn.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// deadline sets read deadlines lazily: it moves the deadline only when the
// one in force would fire more than an eighth of the timeout early, so a
// busy keep-alive connection does not reset a timer on every request.
type deadline struct {
	at time.Time
}

func (d *deadline) extend(c net.Conn, now time.Time, timeout time.Duration) {
	if timeout <= 0 {
		if !d.at.IsZero() {
			c.SetReadDeadline(time.Time{})
			d.at = time.Time{}
		}
		return
	}
	want := now.Add(timeout)
	if d.at.IsZero() || want.Sub(d.at) > timeout/8 || d.at.Before(now) {
		c.SetReadDeadline(want)
		d.at = want
	}
}

// writeString queues s; see write.
func (w *writer) writeString(s string) error {
	if len(w.buf)+len(s) <= cap(w.buf) {
		w.buf = append(w.buf, s...)
		return nil
	}
	return w.write([]byte(s))
}
