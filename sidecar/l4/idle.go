package l4

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// activity is the time of the last byte in either direction of a relay,
// in nanoseconds since the Unix epoch.
type activity struct{ last atomic.Int64 }

// idleReader reads from one side of a relay and fails only once neither
// direction has moved a byte for idle (Envoy's tcp_proxy idle_timeout).
// It moves the socket deadline at most every idle/8, not on every read.
type idleReader struct {
	conn  net.Conn
	idle  time.Duration
	armed time.Time
	act   *activity
}

func (r *idleReader) Read(p []byte) (int, error) {
	for {
		now := time.Now()
		if now.Sub(r.armed) > r.idle/8 {
			r.conn.SetReadDeadline(now.Add(r.idle))
			r.armed = now
		}
		n, err := r.conn.Read(p)
		if n > 0 {
			r.act.last.Store(time.Now().UnixNano())
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && r.otherSideActive() {
			r.armed = time.Time{} // the other direction is busy: wait again
			continue
		}
		return n, err
	}
}

func (r *idleReader) otherSideActive() bool {
	return time.Since(time.Unix(0, r.act.last.Load())) < r.idle
}

// copyIdle copies src to dst until EOF, an error, or both directions idle.
func copyIdle(dst, src net.Conn, idle time.Duration, act *activity) {
	io.Copy(dst, &idleReader{conn: src, idle: idle, act: act})
}
