package h2

import (
	"net"

	"github.com/meshlb/meshlb/internal/peek"
)

// peekPrefix waits until the socket's receive queue holds bytes that
// either are the whole preface or stop matching it, without consuming
// them, and returns how many match (len(buf) for the whole preface, 0
// for a mismatch). io.EOF: the client closed before; peek.ErrUnsupported:
// c is not a socket.
func peekPrefix(c net.Conn, buf []byte) (int, error) {
	seen := 0
	n, err := peek.Until(c, buf, func(b []byte) bool {
		// So far the preface: wait for more. A wake-up that brings nothing
		// new is the client's FIN, which a peek cannot see behind queued
		// bytes: then it is not HTTP/2.
		if len(b) > seen && len(b) < len(buf) && matches(b) {
			seen = len(b)
			return true
		}
		return false
	})
	if err != nil || n < len(buf) || !matches(buf[:n]) {
		return 0, err
	}
	return n, nil
}
