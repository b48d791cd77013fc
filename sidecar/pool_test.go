package sidecar

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A pooled upstream connection is closed once idle for the cluster's
// common_http_protocol_options.idle_timeout, and kept without one.
func TestUpstreamIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		idle       time.Duration
		wantClosed bool
	}{
		{"idle_timeout 200ms", 200 * time.Millisecond, true},
		{"no idle_timeout", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			var closed atomic.Int64
			be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			be.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateClosed {
					closed.Add(1)
				}
			}
			be.Start()
			defer be.Close()
			cl := staticCluster("be", strings.TrimPrefix(be.URL, "http://"))
			cl.IdleTimeout = tc.idle
			url := serveHTTP(t, s, cl, nil)
			c := newClient()
			defer c.CloseIdleConnections()
			if code, _, _ := do(t, c, url); code != 200 {
				t.Fatalf("status %d", code)
			}
			pool := &s.Snapshot().Clusters["be"].Endpoints[0].Pool
			if n := pool.Idle(); n != 1 {
				t.Fatalf("%d idle connections after a request, want 1", n)
			}
			if tc.wantClosed {
				waitFor(t, func() bool { return pool.Idle() == 0 && closed.Load() == 1 })
				return
			}
			time.Sleep(3 * 200 * time.Millisecond) // proving a negative: three timeouts' worth
			if pool.Idle() != 1 || closed.Load() != 0 {
				t.Errorf("without idle_timeout: %d idle, %d closed; want the connection kept", pool.Idle(), closed.Load())
			}
		})
	}
}
