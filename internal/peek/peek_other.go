//go:build !unix

// Package peek reads what a socket has received without consuming it.
package peek

import (
	"errors"
	"net"
)

// ErrUnsupported: peeking needs MSG_PEEK.
var ErrUnsupported = errors.New("peeking is not supported on this platform")

// Until always fails with ErrUnsupported here.
func Until(net.Conn, []byte, func([]byte) bool) (int, error) { return 0, ErrUnsupported }
