package integration

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// A sidecar restarted while the control server is down serves its last
// good configuration from --state-dir at once.
func TestStateDirServesWithoutControlServer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startBackend(t, "a")
	m := &mesh{
		path:    filepath.Join(t.TempDir(), "services.yaml"),
		webPort: freePort(t), echoPort: freePort(t), adminPort: freePort(t), xdsPort: freePort(t),
		echoBackend: startEcho(t),
	}
	writeFile(t, m.path, m.services(a))
	xds := fmt.Sprintf("127.0.0.1:%d", m.xdsPort)
	state := t.TempDir()
	admin := fmt.Sprintf("127.0.0.1:%d", m.adminPort)
	control := start(t, "control", "control", "--services", m.path, "--xds-addr", xds)
	first := start(t, "sidecar", "sidecar", "--xds", xds, "--node-id", "client", "--admin", admin, "--state-dir", state)
	waitReady(t, m.adminPort)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to a", func() bool { return seenAll(c, m.webURL(), a) })

	control.stop()
	first.stop()
	c.CloseIdleConnections()
	start(t, "sidecar (restarted)", "sidecar", "--xds", xds, "--node-id", "client", "--admin", admin, "--state-dir", state)
	waitReady(t, m.adminPort)
	if code, body, err := httpGet(c, m.webURL()); err != nil || code != 200 || body != "a" {
		t.Fatalf("restarted sidecar without a control server: %d %q %v, want a", code, body, err)
	}
}
