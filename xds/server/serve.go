package server

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Keepalive and shutdown settings of [Serve].
const (
	// minClientPing is the shortest client ping interval the server accepts;
	// Envoy and gRPC clients commonly ping every 10-30s on xDS streams.
	minClientPing = 5 * time.Second
	// serverPing and serverPingTimeout let the server notice sidecars that
	// vanished without closing their connection.
	serverPing        = 30 * time.Second
	serverPingTimeout = 10 * time.Second
	// drainTimeout bounds graceful shutdown. ADS streams are long-lived and
	// do not end on GOAWAY, so after it the remaining streams are cut and
	// their sidecars reconnect (to another replica).
	drainTimeout = 5 * time.Second
)

// Serve serves s on lis with a new gRPC server, using keepalive settings
// that permit client pings even without active streams, plus opts. When ctx
// is done it stops gracefully: it stops accepting, waits up to drainTimeout
// for open streams to end, then closes the rest. Serve closes lis and
// returns nil after ctx is done, or the error that stopped serving first.
func Serve(ctx context.Context, lis net.Listener, s *Server, opts ...grpc.ServerOption) error {
	base := []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             minClientPing,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: serverPing, Timeout: serverPingTimeout}),
	}
	g := grpc.NewServer(append(base, opts...)...)
	s.Register(g)
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(lis) }()
	select {
	case err := <-errc:
		g.Stop()
		return fmt.Errorf("serving xDS: %w", err)
	case <-ctx.Done():
	}
	stopGracefully(g, drainTimeout)
	<-errc // nil once stopped
	return nil
}

// stopGracefully calls g.GracefulStop and, if it has not returned after d,
// g.Stop. It returns once g is fully stopped.
func stopGracefully(g *grpc.Server, d time.Duration) {
	done := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		g.Stop()
		<-done
	}
}
