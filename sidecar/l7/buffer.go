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
	if diff := want.Sub(d.at); d.at.IsZero() || diff > timeout/8 || diff < -timeout/8 || d.at.Before(now) {
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
