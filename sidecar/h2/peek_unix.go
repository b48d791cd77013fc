//go:build unix

package h2

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// errNoPeek: the connection is not a socket.
var errNoPeek = errors.New("connection does not support peeking")

// peekPrefix waits until the socket's receive queue holds bytes that
// either are the whole preface or stop matching it, without consuming
// them, and returns how many match (len(buf) for the whole preface, 0
// for a mismatch). io.EOF: the client closed before.
func peekPrefix(c net.Conn, buf []byte) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errNoPeek
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, errNoPeek
	}
	var n, seen int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
		switch {
		case perr == syscall.EAGAIN || perr == syscall.EINTR:
			return false
		case perr == nil && n > seen && n < len(buf) && matches(buf[:n]):
			// So far the preface: wait for more. A wake-up that brings
			// nothing new is the client's FIN, which a peek cannot see
			// behind queued bytes: then it is not HTTP/2.
			seen = n
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case perr != nil:
		return 0, perr
	case n == 0:
		return 0, io.EOF
	case n < len(buf) || !matches(buf[:n]):
		return 0, nil
	}
	return n, nil
}
