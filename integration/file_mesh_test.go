package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mesh is a control server on a services.yaml plus one sidecar ("client")
// with an HTTP upstream "web" and a TCP upstream "echo".
type mesh struct {
	path               string
	webPort, echoPort  int // the sidecar's upstream listeners
	adminPort, xdsPort int
	echoBackend        int
	control, sidecar   *process
}

func (m *mesh) services(web ...*backend) string {
	var b strings.Builder
	b.WriteString("services:\n  - name: web\n    protocol: http\n    endpoints:\n")
	for _, w := range web {
		fmt.Fprintf(&b, "      - address: 127.0.0.1\n        port: %d\n", w.port)
	}
	fmt.Fprintf(&b, "  - name: echo\n    endpoints:\n      - address: 127.0.0.1\n        port: %d\n", m.echoBackend)
	fmt.Fprintf(&b, "  - name: client\n    sidecar:\n      upstreams:\n")
	fmt.Fprintf(&b, "        - service: web\n          bind_port: %d\n", m.webPort)
	fmt.Fprintf(&b, "        - service: echo\n          bind_port: %d\n", m.echoPort)
	return b.String()
}

func startMesh(t *testing.T, web ...*backend) *mesh {
	t.Helper()
	m := &mesh{
		path:    filepath.Join(t.TempDir(), "services.yaml"),
		webPort: freePort(t), echoPort: freePort(t), adminPort: freePort(t), xdsPort: freePort(t),
		echoBackend: startEcho(t),
	}
	writeFile(t, m.path, m.services(web...))
	xds := fmt.Sprintf("127.0.0.1:%d", m.xdsPort)
	m.control = start(t, "control", "control", "--services", m.path, "--xds-addr", xds)
	m.sidecar = start(t, "sidecar", "sidecar", "--xds", xds, "--node-id", "client",
		"--admin", fmt.Sprintf("127.0.0.1:%d", m.adminPort))
	waitReady(t, m.adminPort)
	return m
}

func (m *mesh) webURL() string { return fmt.Sprintf("http://127.0.0.1:%d/", m.webPort) }

// seenAll sends requests until every backend in want has answered.
func seenAll(c *http.Client, url string, want ...*backend) bool {
	seen := map[string]bool{}
	for range 10 * len(want) {
		_, body, err := httpGet(c, url)
		if err != nil {
			return false
		}
		seen[body] = true
	}
	for _, b := range want {
		if !seen[b.name] {
			return false
		}
	}
	return true
}

func TestFileMeshFollowsEdits(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a, b, c := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")
	m := startMesh(t, a, b)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	eventually(t, "traffic to a and b", func() bool { return seenAll(client, m.webURL(), a, b) })

	// A long-lived TCP connection through the sidecar, open across every change.
	tcp, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.echoPort))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcpRd := bufio.NewReader(tcp)
	echo := func(msg string) {
		t.Helper()
		tcp.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(tcp, "%s\n", msg)
		if line, err := tcpRd.ReadString('\n'); err != nil || line != msg+"\n" {
			t.Fatalf("long-lived TCP connection: got %q, %v", line, err)
		}
	}
	echo("before")

	ld := startLoad(m.webURL(), 4)
	// Add an endpoint: c gets traffic.
	writeFile(t, m.path, m.services(a, b, c))
	took := eventually(t, "traffic to the added endpoint c", func() bool { return c.hits.Load() > 0 })
	t.Logf("added endpoint got traffic %v after the edit", took)
	echo("after add")

	// Remove an endpoint: a stops getting requests.
	writeFile(t, m.path, m.services(b, c))
	took = eventually(t, "the removed endpoint a to stop getting requests", func() bool {
		before := a.hits.Load()
		time.Sleep(100 * time.Millisecond) // a quiet window, inside a bounded poll
		return a.hits.Load() == before
	})
	t.Logf("removed endpoint stopped getting traffic %v after the edit", took)
	echo("after remove")

	ok, fail, errs := ld.finish()
	t.Logf("load across the changes: %d ok, %d failed", ok, fail)
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed across the changes (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
}

func TestBadServicesFileKeepsLastGood(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startBackend(t, "a")
	m := startMesh(t, a)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	eventually(t, "traffic to a", func() bool { return seenAll(client, m.webURL(), a) })

	bad := strings.Replace(m.services(a), fmt.Sprintf("port: %d", a.port), "port: 70000", 1)
	writeFile(t, m.path, bad)
	line := regexp.MustCompile(`services\.yaml:\d+: services\[0\]\.endpoints\[0\]\.port: 70000 is out of range 1-65535`)
	eventually(t, "the control server to report the bad edit with file:line", func() bool {
		return line.MatchString(m.control.log.String())
	})
	for range 20 {
		if code, body, err := httpGet(client, m.webURL()); err != nil || code != 200 || body != "a" {
			t.Fatalf("after a bad edit: %d %q %v, want the last good catalog serving", code, body, err)
		}
	}
	// The control server still runs and picks up the next good edit.
	b := startBackend(t, "b")
	writeFile(t, m.path, m.services(b))
	eventually(t, "traffic to b after a good edit", func() bool { return seenAll(client, m.webURL(), b) })
}

func TestValidateReportsFileLine(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	path := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(path, []byte("services:\n  - name: web\n    protocol: htp\n"), 0o644)
	out, err := runMeshlb("validate", path)
	if err == nil {
		t.Fatalf("validate succeeded on a bad file: %s", out)
	}
	if want := "services.yaml:3: services[0].protocol:"; !strings.Contains(out, want) {
		t.Errorf("validate output %q, want it to contain %q", out, want)
	}
	out, err = runMeshlb("validate", "../../shared/bench/envoy-bootstrap.yaml")
	if err != nil && !strings.Contains(out, "no such file") {
		t.Errorf("validate of the bench bootstrap: %v: %s", err, out)
	}
}
