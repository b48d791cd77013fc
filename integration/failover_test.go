package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverInfo is the part of the sidecar's /server_info the tests read.
type serverInfo struct {
	State        string `json:"state"`
	ControlPlane struct {
		Address   string `json:"address"`
		Connected bool   `json:"connected"`
	} `json:"control_plane"`
}

// controlPlane reads the sidecar's /server_info.
func controlPlane(c *http.Client, adminPort int) (serverInfo, error) {
	var info serverInfo
	code, body, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/server_info", adminPort))
	if err != nil {
		return info, err
	}
	if code != 200 {
		return info, fmt.Errorf("/server_info: %d %s", code, body)
	}
	return info, json.Unmarshal([]byte(body), &info)
}

// TestReplicaFailoverOnHang runs two control replicas on one services file
// and a sidecar under load that lists both. The connected replica is
// stopped with SIGSTOP, so its sockets stay open and nothing answers; an
// edit is made during the stall. The sidecar must be on the other replica,
// serving the edit, within 20 s, and no request may fail.
func TestReplicaFailoverOnHang(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, mode := range []string{"sotw", "delta"} {
		t.Run(mode, func(t *testing.T) { testReplicaFailoverOnHang(t, mode == "delta") })
	}
}

func testReplicaFailoverOnHang(t *testing.T, delta bool) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	m := &mesh{
		path:    filepath.Join(t.TempDir(), "services.yaml"),
		webPort: freePort(t), echoPort: freePort(t), adminPort: freePort(t),
		echoBackend: startEcho(t),
	}
	writeFile(t, m.path, m.services(a))
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	replicas := map[string]*process{}
	for i, addr := range addrs {
		replicas[addr] = start(t, fmt.Sprintf("control %d", i), "control", "--services", m.path, "--xds-addr", addr)
	}
	m.sidecar = start(t, "sidecar", "sidecar", "--xds", strings.Join(addrs, ","), "--node-id", "client",
		"--admin", fmt.Sprintf("127.0.0.1:%d", m.adminPort), fmt.Sprintf("--delta=%v", delta))
	waitReady(t, m.adminPort)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	eventually(t, "traffic to a", func() bool { return seenAll(client, m.webURL(), a) })
	var info serverInfo
	eventually(t, "/server_info to report a connected control server", func() bool {
		var err error
		info, err = controlPlane(client, m.adminPort)
		return err == nil && info.ControlPlane.Connected
	})
	hung, ok := replicas[info.ControlPlane.Address]
	if !ok {
		t.Fatalf("/server_info reports %q, not one of %v", info.ControlPlane.Address, addrs)
	}
	other := addrs[0]
	if other == info.ControlPlane.Address {
		other = addrs[1]
	}

	ld := startLoad(m.webURL(), 4)
	if err := hung.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Cleanup(func() { hung.cmd.Process.Signal(syscall.SIGCONT) }) // before its SIGTERM
	writeFile(t, m.path, m.services(b))

	eventually(t, "the sidecar to move to "+other, func() bool {
		info, err := controlPlane(client, m.adminPort)
		return err == nil && info.ControlPlane.Address == other && info.ControlPlane.Connected
	})
	moved := time.Since(stopped)
	eventually(t, "traffic to b, the edit made during the stall", func() bool { return b.hits.Load() > 0 })
	applied := time.Since(stopped)
	t.Logf("after SIGSTOP of %s: on %s after %v, edit applied after %v", info.ControlPlane.Address, other, moved, applied)
	if applied > 20*time.Second {
		t.Errorf("the edit made during the stall took %v to apply, want under 20s", applied)
	}
	_, body, err := httpGet(client, fmt.Sprintf("http://127.0.0.1:%d/stats", m.adminPort))
	if err != nil || !strings.Contains(body, "control_plane.connected_state: 1\n") {
		t.Errorf("/stats after failover: %v, want control_plane.connected_state: 1 in:\n%s", err, body)
	}
	ok2, fail, errs := ld.finish()
	t.Logf("load across the failover: %d ok, %d failed", ok2, fail)
	if fail > 0 || ok2 == 0 {
		t.Errorf("%d requests failed across the failover (want 0; %d ok): %v", fail, ok2, errs[:min(len(errs), 5)])
	}
}
