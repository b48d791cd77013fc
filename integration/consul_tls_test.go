package integration

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// consulCerts creates a CA, a server certificate (valid for 127.0.0.1)
// and a client certificate in dir with `consul tls`, returning their
// paths by role: "ca", "server", "server-key", "client", "client-key".
func consulCerts(t *testing.T, bin, dir string) map[string]string {
	t.Helper()
	for _, args := range [][]string{
		{"tls", "ca", "create"},
		{"tls", "cert", "create", "-server", "-dc", "dc1"},
		{"tls", "cert", "create", "-client", "-dc", "dc1"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("consul %v: %v\n%s", args, err, out)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	return map[string]string{
		"ca": p("consul-agent-ca.pem"), "server": p("dc1-server-consul-0.pem"),
		"server-key": p("dc1-server-consul-0-key.pem"), "client": p("dc1-client-consul-0.pem"),
		"client-key": p("dc1-client-consul-0-key.pem"),
	}
}

// The control server and the sidecar reach Consul over HTTPS with client
// certificates (verify_incoming), configured only by the consul CLI's
// environment: CONSUL_HTTP_ADDR=https://..., CONSUL_CACERT,
// CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY.
func TestConsulTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	certs := consulCerts(t, consulBin(t), t.TempDir())
	https := stablePort(t)
	a := startConsul(t, func(cfg map[string]any) {
		cfg["ports"].(map[string]any)["https"] = https
		cfg["tls"] = map[string]any{
			"defaults": map[string]any{"ca_file": certs["ca"], "cert_file": certs["server"], "key_file": certs["server-key"]},
			"https":    map[string]any{"verify_incoming": true},
		}
	})
	a.meshAddr = "-"
	t.Setenv("CONSUL_HTTP_ADDR", fmt.Sprintf("https://127.0.0.1:%d", https))
	t.Setenv("CONSUL_CACERT", certs["ca"])
	t.Setenv("CONSUL_CLIENT_CERT", certs["client"])
	t.Setenv("CONSUL_CLIENT_KEY", certs["client-key"])
	wa := startBackend(t, "a")
	m := startConsulMesh(t, a, wa)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to a, discovered over HTTPS", func() bool { return seenAll(c, m.webURL(), wa) })
}
