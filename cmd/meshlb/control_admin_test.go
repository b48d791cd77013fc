package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/discovery/consul"
	"github.com/meshlb/meshlb/discovery/file"
	"github.com/meshlb/meshlb/xds/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testTimeout = 10 * time.Second

func TestControlAdminNotReady(t *testing.T) {
	h, err := controlAdmin(server.New(nil), file.NewStatic("default", file.Default))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/ready before any catalog = %d, want 503", rec.Code)
	}
}

// TestControlAdmin runs the control server with its admin listener on the
// embedded mesh and checks every admin endpoint.
func TestControlAdmin(t *testing.T) {
	xdsLis, adminLis := listen(t), listen(t)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- runControlOn(ctx, xdsLis, adminLis, file.NewStatic("default", file.Default), controlConfig{}, slog.New(slog.DiscardHandler))
	}()
	base := "http://" + adminLis.Addr().String()
	waitFor(t, base+"/ready", func(code int, _ string) bool { return code == http.StatusOK })
	tests := []struct {
		path string
		want string
	}{
		{"/ready", "LIVE"},
		{"/stats", "meshlb_control_catalog_updates_total: 1\n"},
		{"/stats", `meshlb_control_snapshot_build_seconds_count: 1`},
		{"/stats/prometheus", "# TYPE meshlb_control_xds_push_seconds histogram"},
		{"/stats/prometheus", "go_goroutines "},
		{"/debug/pprof/goroutine?debug=1", "goroutine profile: total"},
	}
	for _, tt := range tests {
		code, body := get(t, base+tt.path)
		if code != http.StatusOK || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d, body lacks %q:\n%.2000s", tt.path, code, tt.want, body)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("runControlOn = %v, want nil", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("runControlOn did not return")
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls url every 10ms until ok holds, failing after testTimeout.
func waitFor(t *testing.T, url string, ok func(code int, body string) bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		if ok(get(t, url)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", url)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestControlAdminConsulStats(t *testing.T) {
	src, err := consul.New(consul.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := controlAdmin(server.New(nil), src)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/stats", nil))
	for _, want := range []string{"meshlb_control_consul_queries_total: 0", "meshlb_control_consul_in_flight: 0",
		"meshlb_control_consul_rate_limited_total: 0"} {
		if !strings.Contains(rec.Body.String(), want+"\n") {
			t.Errorf("/stats lacks %q:\n%s", want, rec.Body.String())
		}
	}
}
