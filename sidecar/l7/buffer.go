package l7

import (
	"errors"
	"net"
	"strconv"
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

// writer batches writes to a connection in a pooled buffer. When idle is
// set, every write to the connection must make progress within idle (the
// stream idle timeout, which covers writes as Envoy's does).
type writer struct {
	conn net.Conn
	buf  []byte // nil when released; len is the pending bytes
	pb   *[]byte
	idle time.Duration
	dl   deadline
	sent int64 // bytes written to the connection, for stream info
}

// init binds the writer to c.
func (w *writer) init(c net.Conn) {
	w.conn = c
	w.dl.write = true
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
			return w.send(p)
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
	err := w.send(w.buf)
	w.buf = w.buf[:0]
	return err
}

// send writes p to the connection under the idle write deadline.
func (w *writer) send(p []byte) error {
	if w.idle > 0 {
		w.dl.extend(w.conn, w.dl.now(), w.idle)
	} else {
		w.dl.clear(w.conn)
	}
	n, err := w.conn.Write(p)
	w.sent += int64(n)
	return err
}

// writeStatus queues a status code without allocating for the usual
// three digits (strconv.Itoa caches only those below 100).
func (w *writer) writeStatus(code int) error {
	if code < 100 || code > 999 {
		return w.writeString(strconv.Itoa(code))
	}
	if len(w.buf)+3 > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10))
	return nil
}

// writeString queues s; see write.
func (w *writer) writeString(s string) error {
	if len(w.buf)+len(s) <= cap(w.buf) {
		w.buf = append(w.buf, s...)
		return nil
	}
	return w.write([]byte(s))
}
