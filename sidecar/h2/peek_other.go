//go:build !unix

package h2

import (
	"errors"
	"net"
)

var errNoPeek = errors.New("connection does not support peeking")

// peekPrefix is not available without MSG_PEEK: detect reads instead.
func peekPrefix(net.Conn, []byte) (int, error) { return 0, errNoPeek }
