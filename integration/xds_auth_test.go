package integration

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/discovery/ca"
)

// TestXDSTokens serves the control plane with per-node tokens over TLS: a
// sidecar with its node's token gets its configuration and serves; one
// without a token, or with another node's, gets none and stays unready,
// and the control server logs the refusal.
func TestXDSTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	dir := t.TempDir()
	web := startBackend(t, "web")
	upstream := freePort(t)
	path := filepath.Join(dir, "services.yaml")
	writeFile(t, path, fmt.Sprintf(`services:
  - name: web
    protocol: http
    endpoints: [{address: 127.0.0.1, port: %d}]
  - name: client
    sidecar:
      upstreams: [{service: web, bind_port: %d}]
  - name: other
    sidecar:
      upstreams: [{service: web, bind_port: %d}]
`, web.port, upstream, freePort(t)))
	tokens := filepath.Join(dir, "tokens")
	writeFile(t, tokens, "client c-secret\nother o-secret\n")
	authority, err := ca.Generate("control.test")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, caFile := serverCertFiles(t, dir, authority)
	xds := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	control := start(t, "control", "control", "--services", path, "--xds-addr", xds,
		"--xds-tokens", tokens, "--xds-cert", cert, "--xds-key", key)
	sidecar := func(name, token string) int {
		admin := freePort(t)
		args := []string{"sidecar", "--xds", xds, "--node-id", "client", "--xds-ca", caFile,
			"--admin", fmt.Sprintf("127.0.0.1:%d", admin)}
		if token != "" {
			args = append(args, "--xds-token", token)
		}
		start(t, name, args...)
		return admin
	}
	good := sidecar("sidecar with its token", "c-secret")
	waitReady(t, good)
	eventually(t, "traffic through the authenticated sidecar", func() bool {
		code, body, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", upstream))
		return err == nil && code == 200 && body == "web"
	})
	for i, bad := range []struct{ name, token string }{{"sidecar without a token", ""}, {"sidecar with another node's token", "o-secret"}} {
		admin := sidecar(bad.name, bad.token)
		eventually(t, "the control server to refuse "+bad.name, func() bool {
			return strings.Count(control.log.String(), "refused an xDS stream") > i
		})
		time.Sleep(time.Second) // time enough to be served, were it allowed
		if code, _, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/ready", admin)); err == nil && code == 200 {
			t.Errorf("%s is ready: it got a configuration", bad.name)
		}
	}
	c, err := net.DialTimeout("tcp", xds, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if err := tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake(); err != nil {
		t.Errorf("the control port does not speak TLS: %v", err)
	}
}

// serverCertFiles writes a server certificate for 127.0.0.1 signed by
// authority, its key and the CA, and returns their paths.
func serverCertFiles(t *testing.T, dir string, authority *ca.CA) (cert, key, caFile string) {
	t.Helper()
	leaf, err := authority.IssueServer("127.0.0.1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, caFile = filepath.Join(dir, "xds.pem"), filepath.Join(dir, "xds-key.pem"), filepath.Join(dir, "xds-ca.pem")
	for p, b := range map[string][]byte{cert: leaf.CertPEM, key: leaf.KeyPEM, caFile: authority.RootsPEM()} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, caFile
}

// TestConsulXDSACL runs the control server with --xds-consul-acl under
// Consul ACLs (default deny): a sidecar whose x-consul-token has
// service:write on its service gets its configuration; one with a
// read-only token gets none.
func TestConsulXDSACL(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t, withACLs)
	t.Setenv("CONSUL_HTTP_TOKEN", "root") // the control server's
	upstream := freePort(t)
	a.registerClientProxy(upstream)
	write := a.tokenWith(`service "client" { policy = "write" }`)
	read := a.readToken()
	xds := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	control := start(t, "control", append([]string{"control", "--consul", "--xds-addr", xds, "--xds-consul-acl"},
		a.meshFlags()...)...)
	sidecar := func(name, token string) int {
		admin := freePort(t)
		start(t, name, "sidecar", "--xds", xds, "--node-id", "client-sidecar-proxy", "--xds-token", token,
			"--admin", fmt.Sprintf("127.0.0.1:%d", admin))
		return admin
	}
	waitReady(t, sidecar("sidecar with service:write", write))
	bad := sidecar("sidecar with a read-only token", read)
	eventually(t, "the control server to refuse the read-only token", func() bool {
		return strings.Contains(control.log.String(), "refused an xDS stream")
	})
	time.Sleep(time.Second)
	if code, _, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/ready", bad)); err == nil && code == 200 {
		t.Error("the sidecar with a read-only token is ready: it got a configuration")
	}
}
