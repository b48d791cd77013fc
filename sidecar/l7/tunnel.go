package l7

import (
	"io"
	"net"
	"time"
)

// tunnelLinger bounds how long a tunnel's client side may keep sending
// after the upstream side has closed.
const tunnelLinger = 10 * time.Second

// tunnel relays bytes both ways after a 101 Switching Protocols response
// (WebSocket and other upgrades) until both directions end. It forwards the
// response head and any bytes already buffered on either side first, and
// closes the upstream connection.
func (s *session) tunnel(u *upstream) error {
	defer u.Close()
	s.writeResponseHead(&u.resp, false)
	u.rd.discard(u.resp.size)
	if err := s.drainTo(&s.out, &u.rd); err != nil {
		return err
	}
	if err := s.drainTo(&u.out, &s.rd); err != nil {
		return err
	}
	// Tunnels carry long-lived streams: no timeouts from the request.
	s.conn.SetDeadline(time.Time{})
	u.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(u.Conn, s.conn)
		closeWrite(u.Conn)
	}()
	io.Copy(s.conn, u.Conn)
	closeWrite(s.conn)
	// The upstream is done; give the client a bounded time to finish too.
	s.conn.SetReadDeadline(time.Now().Add(tunnelLinger))
	<-done
	return nil
}

// drainTo writes what rd has buffered through w, and flushes w.
func (s *session) drainTo(w *writer, rd *reader) error {
	if len(rd.buffered()) > 0 {
		if err := w.write(rd.buffered()); err != nil {
			return err
		}
		rd.discard(rd.w - rd.r)
	}
	return w.flush()
}

// closeWrite half-closes c where it can (TCP, also under a wrapper that
// keeps the method), else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}
