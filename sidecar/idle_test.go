package sidecar

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/config"
)

// The HCM's stream_idle_timeout reaches the HTTP listener as decoded:
// 0s disables the timeout, as docs/xds-support.md says (config applies
// Envoy's 5m default when the field is absent), instead of becoming 5m.
func TestStreamIdleTimeoutReachesListener(t *testing.T) {
	for _, idle := range []time.Duration{0, 30 * time.Second} {
		s := newSidecar(t)
		serveHTTP(t, s, staticCluster("be", "127.0.0.1:1"), func(l *config.Listener) {
			l.FilterChains[0].HTTP.StreamIdleTimeout = idle
		})
		if got := s.Snapshot().Listeners["web"].Chains[0].httpCfg.StreamIdle; got != idle {
			t.Errorf("stream_idle_timeout %v: listener's StreamIdle = %v", idle, got)
		}
	}
}

// Consul's local_idle_timeout_ms and local_request_timeout_ms (a route's
// idle_timeout and timeout): an upstream that stalls is answered at the
// route's idle bound, though the listener's stream idle timeout is a
// minute; with only the route timeout, at the route timeout, 504.
func TestRouteIdleTimeout(t *testing.T) {
	stall := loopback.Start(t, func(ctx context.Context, c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n') // the request line, then silence
		<-ctx.Done()
	})
	for _, tt := range []struct {
		name          string
		idle, timeout time.Duration
		want          time.Duration
	}{
		{"route idle timeout", 300 * time.Millisecond, 10 * time.Second, 300 * time.Millisecond},
		{"route timeout", 0, 300 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			url := serveHTTP(t, s, staticCluster("be", stall), func(l *config.Listener) {
				l.FilterChains[0].HTTP.StreamIdleTimeout = time.Minute
				a := action(l)
				a.Timeout = tt.timeout
				if tt.idle > 0 {
					a.IdleTimeout = &tt.idle
				}
			})
			start := time.Now()
			code, _, _ := do(t, &http.Client{Timeout: 20 * time.Second}, url+"/")
			took := time.Since(start)
			if code != http.StatusGatewayTimeout || took < tt.want || took > tt.want+2*time.Second {
				t.Errorf("stalled upstream: %d after %v, want 504 after %v", code, took, tt.want)
			}
		})
	}
}
