package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hcBootstrap is staticBootstrap with an HTTP health check (interval 1s,
// thresholds 2) and retries of connect failures, over the backends.
func hcBootstrap(t *testing.T, backends ...*hcBackend) staticBootstrap {
	var ports []int
	for _, b := range backends {
		ports = append(ports, b.port)
	}
	return staticBootstrap{adminPort: freePort(t), httpPort: freePort(t), backends: ports,
		routeTimeout: `5s, retry_policy: { retry_on: "reset,connect-failure", num_retries: 2 }`,
		clusterExtra: `    health_checks:
    - timeout: 0.5s
      interval: 1s
      no_traffic_interval: 1s
      initial_jitter: 0.5s
      unhealthy_threshold: 2
      healthy_threshold: 2
      http_health_check: { path: /healthz }
`}
}

// afterStart starts a sidecar on bs with stateDir, sends n GETs as soon
// as it is ready, and returns how many failed and how many times the
// sidecar tried to connect to deadAddr.
func afterStart(t *testing.T, bs staticBootstrap, stateDir, deadAddr string, n int) (failed int, dials string) {
	t.Helper()
	p := start(t, "sidecar", "sidecar", "--config", bs.write(t), "--state-dir", stateDir)
	defer p.stop()
	waitReady(t, bs.adminPort)
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for range n {
		if code, _, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/", bs.httpPort)); err != nil || code != 200 {
			failed++
		}
	}
	dials, err := endpointStat(c, bs.adminPort, deadAddr, "cx_connect_fail")
	if err != nil {
		t.Fatal(err)
	}
	return failed, dials
}

// TestRestartKeepsDeadBackendOut: a sidecar learns by its active check
// that one of 3 backends is dead, and persists it in --state-dir. It is
// killed (SIGKILL) and started again with the same state dir: from its
// first request on it sends nothing to the dead backend (no connect
// attempt) and no request fails. Without the state (a fresh dir), every
// endpoint starts failing its check, the cluster is in panic mode, and
// the dead backend gets connect attempts until the checks pass (logged).
func TestRestartKeepsDeadBackendOut(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	backends := []*hcBackend{startHCBackend(t, "a"), startHCBackend(t, "b"), startHCBackend(t, "c")}
	bs := hcBootstrap(t, backends...)
	dir := t.TempDir()
	p := start(t, "sidecar", "sidecar", "--config", bs.write(t), "--state-dir", dir)
	waitReady(t, bs.adminPort)
	admin := &http.Client{Timeout: 2 * time.Second}
	dead := backends[1]
	deadAddr := fmt.Sprintf("127.0.0.1:%d", dead.port)
	for _, b := range backends {
		addr := fmt.Sprintf("127.0.0.1:%d", b.port)
		eventually(t, addr+" to pass its first check", func() bool {
			v, err := endpointStat(admin, bs.adminPort, addr, "health_flags")
			return err == nil && v == "healthy"
		})
	}
	dead.kill()
	eventually(t, "the dead backend to be flagged", func() bool {
		v, err := endpointStat(admin, bs.adminPort, deadAddr, "health_flags")
		return err == nil && v == "/failed_active_hc"
	})
	eventually(t, "the verdict to be persisted", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, "ha-state.json"))
		return strings.Contains(string(data), `"`+deadAddr+`":{"failed_active_hc":true}`)
	})
	p.cmd.Process.Kill()
	p.cmd.Wait()

	failed, dials := afterStart(t, bs, dir, deadAddr, 200)
	t.Logf("restarted with the state: %d of 200 requests failed, %s connect attempts to the dead backend", failed, dials)
	if failed != 0 || dials != "0" {
		t.Errorf("after the restart: %d requests failed, %s connect attempts to the dead backend; want 0 and 0", failed, dials)
	}
	failed, dials = afterStart(t, bs, t.TempDir(), deadAddr, 200)
	t.Logf("restarted without it: %d of 200 requests failed, %s connect attempts to the dead backend", failed, dials)
}
