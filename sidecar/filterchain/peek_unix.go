//go:build unix

package filterchain

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// errNoPeek is returned for connections without a file descriptor.
var errNoPeek = errors.New("connection does not support peeking")

// peek waits until c's receive queue holds more than have bytes (or the
// read deadline passes) and copies them into buf without consuming them.
// It returns io.EOF when the client closed before sending more.
func peek(c net.Conn, buf []byte, have int) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errNoPeek
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
		if perr == syscall.EAGAIN || perr == syscall.EINTR || perr == nil && n > 0 && n <= have {
			return false // wait for more data
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
