package integration

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// shutdownSidecar starts a sidecar in front of be with the given drain
// flags and returns it with its listener and admin URLs.
func shutdownSidecar(t *testing.T, be *slowBackend, drain, parent int) (p *process, web, ready string) {
	t.Helper()
	b := staticBootstrap{adminPort: freePort(t), httpPort: freePort(t), routeTimeout: "0s", backends: []int{be.port}}
	p = start(t, "sidecar", "sidecar", "--config", b.write(t),
		"--drain-time-s", strconv.Itoa(drain), "--parent-shutdown-time-s", strconv.Itoa(parent))
	waitReady(t, b.adminPort)
	return p, fmt.Sprintf("http://127.0.0.1:%d", b.httpPort), fmt.Sprintf("http://127.0.0.1:%d/ready", b.adminPort)
}

// inflight sends GET url on its own connection and reports the outcome.
func inflight(url string) <-chan string {
	ch := make(chan string, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
		defer c.CloseIdleConnections()
		code, body, err := httpGet(c, url)
		ch <- fmt.Sprintf("%d %s %v", code, body, err)
	}()
	return ch
}

// On SIGTERM /ready turns 503 and the listener stops accepting, while a
// request in flight finishes within --drain-time-s; then the process exits.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := startSlowBackend(t, 1500*time.Millisecond)
	p, web, ready := shutdownSidecar(t, be, 10, 20)
	got := inflight(web + "/slow")
	eventually(t, "request at the backend", func() bool { return be.started.Load() == 1 })
	exited := p.exited()
	p.cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, "/ready 503", func() bool {
		code, _, err := httpGet(http.DefaultClient, ready)
		return err == nil && code == 503
	})
	if c, err := net.DialTimeout("tcp", web[len("http://"):], time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts while draining")
	}
	if r := <-got; r != "200 done <nil>" {
		t.Errorf("in-flight request during the drain: %s, want 200 done", r)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v, want status 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit 5s after the last request finished")
	}
}

// A request stuck on a hung backend does not keep the process alive: its
// connection is closed at --drain-time-s and the process is gone by
// --parent-shutdown-time-s.
func TestShutdownBoundedWithHungBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := startSlowBackend(t, 0)
	p, web, _ := shutdownSidecar(t, be, 1, 3)
	got := inflight(web + "/hang")
	eventually(t, "request at the backend", func() bool { return be.started.Load() == 1 })
	exited := p.exited()
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(8 * time.Second):
		t.Fatal("still running 8s after SIGTERM with --parent-shutdown-time-s 3")
	}
	took := time.Since(start)
	if took < time.Second || took > 4*time.Second {
		t.Errorf("exit %v after SIGTERM, want between the drain time (1s) and the parent shutdown time (3s) plus slack", took)
	}
	if r := <-got; r[:3] == "200" {
		t.Errorf("hung request: %s, want it cut", r)
	}
}
