package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// DefaultHandshakeTimeout bounds a downstream handshake when the chain
// sets no transport_socket_connect_timeout, so a client that stalls
// mid-handshake cannot hold a connection for ever.
const DefaultHandshakeTimeout = 10 * time.Second

// NewServer returns the transport socket of a chain that terminates TLS
// as t says (a filterchain.Transport): it runs the handshake on each
// accepted connection within t.HandshakeTimeout (or ctx, the listener's
// drain) and returns the *tls.Conn to serve. It is safe for concurrent
// use.
func NewServer(t *spec.DownstreamTLS) (func(ctx context.Context, c net.Conn) (net.Conn, error), error) {
	cfg, err := ServerConfig(t)
	if err != nil {
		return nil, err
	}
	timeout := t.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	return func(ctx context.Context, c net.Conn) (net.Conn, error) {
		return handshake(ctx, tls.Server(c, cfg), c, timeout)
	}, nil
}

// handshake runs tc's handshake over raw within timeout, then clears the
// deadline it set.
func handshake(ctx context.Context, tc *tls.Conn, raw net.Conn, timeout time.Duration) (net.Conn, error) {
	raw.SetDeadline(time.Now().Add(timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	raw.SetDeadline(time.Time{})
	return tc, nil
}
