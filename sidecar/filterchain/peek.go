package filterchain

import (
	"net"

	peekpkg "github.com/meshlb/meshlb/internal/peek"
)

// peek waits until c's receive queue holds more than have bytes (or the
// read deadline passes) and copies them into buf without consuming them.
// It returns io.EOF when the client closed before sending more.
func peek(c net.Conn, buf []byte, have int) (int, error) {
	return peekpkg.Until(c, buf, func(b []byte) bool { return len(b) <= have })
}
