package l7

import (
	"net"
	"time"
)

// Bounds on a graceful close: how long, and how many bytes, the proxy
// keeps reading and discarding after it has answered and shut down its
// side (nginx's lingering_close does the same).
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

// lingerClose closes c gracefully after an answer the client may still be
// sending a request under: it shuts down the write side, so the answer is
// followed by a FIN, and discards what the client sends until it closes
// or a bound is reached. Closing with unread input would send a reset
// that can destroy the answer in the client's receive buffer before it is
// read (RFC 9112 9.6; issue 7, item 7).
func lingerClose(c net.Conn) {
	defer c.Close()
	tc, ok := c.(*net.TCPConn)
	if !ok || tc.CloseWrite() != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(lingerTime))
	buf := getBuf()
	defer putBuf(buf)
	for n := 0; n < lingerBytes; {
		m, err := c.Read(*buf)
		if err != nil {
			return
		}
		n += m
	}
}
