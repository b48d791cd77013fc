package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"time"

	"github.com/meshlb/meshlb/internal/peek"
	"github.com/meshlb/meshlb/sidecar/filterchain"
)

// preface is the HTTP/2 client connection preface (RFC 9113 3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Auto serves each connection with the codec it speaks, for codec_type
// AUTO: HTTP/2 when TLS negotiated "h2" by ALPN or, in plaintext, when
// the connection opens with the HTTP/2 client preface (h2c with prior
// knowledge); HTTP/1 otherwise. A TLS connection that negotiated no
// protocol is served HTTP/1. The plaintext check peeks at the socket's
// receive queue (MSG_PEEK), so HTTP/1 gets the connection as accepted
// (its parker and splice intact) and the bytes unread; it costs one
// recvfrom per connection, usually satisfied at once, and decides at the
// first byte that differs from the preface. Immutable; safe for
// concurrent use.
type Auto struct {
	HTTP1, HTTP2 filterchain.Terminal
	// Wait bounds the wait for the connection's first bytes; 0: none.
	// On expiry the connection is closed.
	Wait func() time.Duration
}

// ServeConn implements [filterchain.Terminal].
func (a *Auto) ServeConn(ctx context.Context, c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			a.HTTP2.ServeConn(ctx, c)
		} else {
			a.HTTP1.ServeConn(ctx, c)
		}
		return
	}
	var wait time.Duration
	if a.Wait != nil {
		wait = a.Wait()
	}
	if wait > 0 {
		c.SetReadDeadline(time.Now().Add(wait))
	}
	isH2, c, err := detect(c)
	if err != nil && err != io.EOF {
		c.Close()
		return
	}
	if wait > 0 {
		c.SetReadDeadline(time.Time{})
	}
	if isH2 {
		a.HTTP2.ServeConn(ctx, c)
		return
	}
	a.HTTP1.ServeConn(ctx, c)
}

// detect reports whether c opens with the HTTP/2 preface. It peeks when
// c is a socket; otherwise it reads the bytes it needs and returns a
// connection that replays them. io.EOF: the client closed first.
func detect(c net.Conn) (bool, net.Conn, error) {
	var buf [len(preface)]byte
	n, err := peekPrefix(c, buf[:])
	if err != peek.ErrUnsupported {
		return n == len(preface), c, err
	}
	n, err = readPrefix(c, buf[:])
	rc := &replayConn{Conn: c, buf: append([]byte(nil), buf[:n]...)}
	return n == len(preface) && matches(buf[:n]), rc, err
}

// matches reports whether b can still be, or is, the start of the preface.
func matches(b []byte) bool { return bytes.HasPrefix([]byte(preface), b) }

// readPrefix reads into buf until its bytes stop matching the preface or
// it is full, and returns how many it read.
func readPrefix(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if !matches(buf[:n]) || err != nil {
			return n, err
		}
	}
	return n, nil
}

// replayConn returns buf before reading on from its connection.
type replayConn struct {
	net.Conn
	buf []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}
