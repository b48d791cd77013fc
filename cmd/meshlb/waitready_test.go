package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitReady: wait-ready returns once /ready answers 200, and fails
// with the last answer when it never does.
func TestWaitReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" || calls.Add(1) < 3 {
			http.Error(w, "PRE_INITIALIZING", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("LIVE\n"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out bytes.Buffer
	if err := runWaitReady(context.Background(), []string{"--admin", addr, "--timeout", "10s"}, &out); err != nil || out.String() != "ready\n" {
		t.Fatalf("wait-ready = %v, %q; want nil, ready", err, out.String())
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
	start := time.Now()
	err := runWaitReady(context.Background(), []string{"--admin", "127.0.0.1:1", "--timeout", "300ms"}, &out)
	if err == nil || !strings.Contains(err.Error(), "waiting for the sidecar to be ready") || time.Since(start) > 5*time.Second {
		t.Errorf("wait-ready on nothing = %v after %v; want a bounded failure", err, time.Since(start))
	}
}
