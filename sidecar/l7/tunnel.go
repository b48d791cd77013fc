package l7

import (
	"io"
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/forward"
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

// bodyAborter is a stream of another codec whose body reads can be ended
// from another goroutine (an HTTP/2 stream: it is reset).
type bodyAborter interface{ AbortBody() }

// tunnelGeneric relays a 101'd upstream connection to a stream of another
// codec (an HTTP/2 extended CONNECT, RFC 8441): the response head, then
// the bytes both ways as the stream's body, until both directions end.
// Once the upstream side has ended, the client's gets tunnelLinger to end
// too before the stream is aborted.
func (u *upstream) tunnelGeneric(st forward.Stream) error {
	defer u.Close()
	u.writeHeadGeneric(st, false)
	u.rd.discard(u.resp.size)
	if b := u.rd.buffered(); len(b) > 0 {
		if err := st.WriteBody(b); err != nil {
			return err
		}
		u.rd.discard(len(b))
	}
	if err := st.Flush(); err != nil {
		return err
	}
	u.SetDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.fromStream(st)
	}()
	err := u.toStream(st)
	if err != nil {
		u.Conn.Close() // ends fromStream's writes
	}
	t := time.NewTimer(tunnelLinger)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		if a, ok := st.(bodyAborter); ok {
			a.AbortBody()
		}
		<-done
	}
	return err
}

// fromStream copies the stream's body to the upstream, then half-closes
// it; a failure closes it.
func (u *upstream) fromStream(st forward.Stream) {
	pb := getBuf()
	defer putBuf(pb)
	for {
		n, err := st.ReadBody(*pb)
		if n > 0 {
			if _, werr := u.Conn.Write((*pb)[:n]); werr != nil {
				u.Conn.Close()
				return
			}
		}
		if err == io.EOF {
			closeWrite(u.Conn)
			return
		}
		if err != nil {
			u.Conn.Close()
			return
		}
	}
}

// toStream copies the upstream's bytes to the stream until the upstream
// closes, then ends the stream's response.
func (u *upstream) toStream(st forward.Stream) error {
	pb := getBuf()
	defer putBuf(pb)
	for {
		n, rerr := u.Conn.Read(*pb)
		if n > 0 {
			if err := st.WriteBody((*pb)[:n]); err != nil {
				return err
			}
			if err := st.Flush(); err != nil {
				return err
			}
		}
		if rerr != nil {
			break
		}
	}
	if err := st.WriteTrailers(nil); err != nil {
		return err
	}
	return st.Flush()
}
