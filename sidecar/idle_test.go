package sidecar

import (
	"testing"
	"time"

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
