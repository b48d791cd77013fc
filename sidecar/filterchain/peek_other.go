//go:build !unix

package filterchain

import (
	"errors"
	"net"
)

// peek is not available without MSG_PEEK: the TLS inspector then closes
// connections (config accepts it only where it works).
func peek(net.Conn, []byte, int) (int, error) {
	return 0, errors.New("tls inspector: peeking is not supported on this platform")
}
