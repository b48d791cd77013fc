//go:build unix

// Package peek reads what a socket has received without consuming it, so
// that a protocol detector (the TLS inspector, the HTTP/2 preface check)
// can look at the first bytes and still hand the untouched socket on.
package peek

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// ErrUnsupported: the connection is not a socket.
var ErrUnsupported = errors.New("connection does not support peeking")

// Until copies the bytes in c's receive queue into buf, without consuming
// them, as often as they grow, until more reports false for them (or the
// read deadline passes). It returns how many bytes buf holds, io.EOF when
// the client closed before sending any.
func Until(c net.Conn, buf []byte, more func(b []byte) bool) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, ErrUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, ErrUnsupported
	}
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
		switch {
		case perr == syscall.EAGAIN || perr == syscall.EINTR:
			return false
		case perr == nil && n > 0 && more(buf[:n]):
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
	}
	return n, nil
}
