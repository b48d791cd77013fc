package sidecar

import (
	"log/slog"
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
			if !tc.wantClosed {
				// The connection is pooled just after the response is relayed.
				waitFor(t, func() bool { return pool.Idle() == 1 })
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

// LimitConnections (overload_manager's global_downstream_max_connections)
// bounds the connections of all listeners: an idle keep-alive connection
// holds its place, and the next connection is served once it closes.
func TestLimitConnections(t *testing.T) {
	s := New(slog.New(slog.DiscardHandler))
	defer s.Close(time.Second)
	s.LimitConnections(1)
	url := serveHTTP(t, s, staticCluster("be", named(t, "be")), nil)
	first := newClient()
	if code, _, _ := do(t, first, url); code != 200 {
		t.Fatalf("first connection: %d", code)
	}
	got := make(chan string, 1)
	go func() {
		second := newClient()
		defer second.CloseIdleConnections()
		_, body, _ := doAsync(second, url)
		got <- body
	}()
	select {
	case b := <-got:
		t.Fatalf("second connection served (%q) while the first is open", b)
	case <-time.After(300 * time.Millisecond): // proving a negative
	}
	first.CloseIdleConnections()
	select {
	case b := <-got:
		if b != "be" {
			t.Errorf("second connection: %q, want be", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second connection not served after the first closed")
	}
}
