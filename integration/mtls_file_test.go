package integration

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/discovery/ca"
)

// peerSPIFFE handshakes with the TLS listener at addr, presenting client
// (nil: no certificate), and returns the server certificate's URI SANs and
// whether a request then got an answer: a listener that requires a valid
// client certificate closes the connection instead.
func peerSPIFFE(t *testing.T, addr string, client *tls.Certificate) (uris []string, answered bool) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			for _, u := range cs.PeerCertificates[0].URIs {
				uris = append(uris, u.String())
			}
			return nil
		}}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return uris, false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return uris, err == nil && strings.HasPrefix(string(buf[:n]), "HTTP/1.1")
}

// plaintextAnswered reports whether an HTTP/1.1 request in plaintext to
// addr gets an HTTP answer.
func plaintextAnswered(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	return (err == nil || errors.Is(err, net.ErrClosed)) && strings.HasPrefix(string(buf[:n]), "HTTP/1.")
}

// fileMTLSMesh is an mTLS mesh from a services.yaml with a CA in a state
// directory: "client" calls "api" (http) through api's sidecar.
type fileMTLSMesh struct {
	dir                         string
	api                         *backend
	apiInbound, upstream        int
	clientAdmin, apiAdmin, xdsP int
}

func startFileMTLSMesh(t *testing.T) *fileMTLSMesh {
	t.Helper()
	m := &fileMTLSMesh{dir: t.TempDir(), api: startBackend(t, "api"), apiInbound: freePort(t), upstream: freePort(t),
		clientAdmin: freePort(t), apiAdmin: freePort(t), xdsP: freePort(t)}
	yaml := fmt.Sprintf(`mesh:
  trust_domain: test.mesh
  state_dir: state
services:
  - name: api
    protocol: http
    endpoints: [{address: 127.0.0.1, port: %d}]
    sidecar: {inbound_port: %d, local_port: %d}
  - name: client
    sidecar:
      upstreams: [{service: api, bind_port: %d}]
`, m.apiInbound, m.apiInbound, m.api.port, m.upstream)
	path := filepath.Join(m.dir, "services.yaml")
	writeFile(t, path, yaml)
	xds := fmt.Sprintf("127.0.0.1:%d", m.xdsP)
	start(t, "control", "control", "--services", path, "--xds-addr", xds)
	start(t, "api-sidecar", "sidecar", "--xds", xds, "--node-id", "api", "--admin", fmt.Sprintf("127.0.0.1:%d", m.apiAdmin))
	start(t, "client-sidecar", "sidecar", "--xds", xds, "--node-id", "client", "--admin", fmt.Sprintf("127.0.0.1:%d", m.clientAdmin))
	waitReady(t, m.apiAdmin)
	waitReady(t, m.clientAdmin)
	return m
}

// caFromState loads the CA the control server generated.
func (m *fileMTLSMesh) caFromState(t *testing.T) *ca.CA {
	t.Helper()
	c, err := ca.Load(filepath.Join(m.dir, "state", ca.CertFile), filepath.Join(m.dir, "state", ca.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFileMeshMTLS runs two services of a services.yaml mesh: a request
// through the client's upstream reaches api over mTLS; api's public
// listener presents api's SPIFFE ID and refuses plaintext, a client
// without a certificate and a self-signed certificate, and serves a
// client with a certificate from the mesh CA.
func TestFileMeshMTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	m := startFileMTLSMesh(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", m.upstream)
	eventually(t, "a request through the mTLS upstream", func() bool {
		code, body, err := httpGet(http.DefaultClient, url)
		return err == nil && code == 200 && strings.Contains(body, "api")
	})
	inbound := fmt.Sprintf("127.0.0.1:%d", m.apiInbound)
	if plaintextAnswered(inbound) {
		t.Error("api's public listener answered plaintext")
	}
	uris, answered := peerSPIFFE(t, inbound, nil)
	if want := "spiffe://test.mesh/ns/default/dc/dc1/svc/api"; len(uris) != 1 || uris[0] != want {
		t.Errorf("server certificate URIs = %v, want [%s]", uris, want)
	}
	if answered {
		t.Error("public listener served a client without a certificate")
	}
	self := selfSigned(t, "spiffe://test.mesh/ns/default/dc/dc1/svc/client")
	if _, answered := peerSPIFFE(t, inbound, &self); answered {
		t.Error("public listener served a self-signed client certificate")
	}
	leaf, err := m.caFromState(t).Issue("spiffe://test.mesh/ns/default/dc/dc1/svc/client", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, answered := peerSPIFFE(t, inbound, &good); !answered {
		t.Error("public listener refused a certificate from the mesh CA")
	}
}

// TestFileMeshWrongIdentity points the client's upstream "api" at a TLS
// server presenting a valid mesh certificate for another service: the
// sidecar checks the upstream's SPIFFE ID and refuses it.
func TestFileMeshWrongIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	authority, err := ca.LoadOrGenerate(state, "test.mesh")
	if err != nil {
		t.Fatal(err)
	}
	impostor := tlsBackend(t, authority, "spiffe://test.mesh/ns/default/dc/dc1/svc/web")
	right := tlsBackend(t, authority, "spiffe://test.mesh/ns/default/dc/dc1/svc/api")
	upstream, admin, xdsPort := freePort(t), freePort(t), freePort(t)
	services := func(port int) string {
		return fmt.Sprintf(`mesh: {trust_domain: test.mesh, state_dir: state}
services:
  - name: api
    protocol: http
    endpoints: [{address: 127.0.0.1, port: %d}]
    sidecar: {inbound_port: %d, local_port: 1}
  - name: client
    sidecar:
      upstreams: [{service: api, bind_port: %d}]
`, port, port, upstream)
	}
	path := filepath.Join(dir, "services.yaml")
	writeFile(t, path, services(impostor))
	xds := fmt.Sprintf("127.0.0.1:%d", xdsPort)
	start(t, "control", "control", "--services", path, "--xds-addr", xds)
	start(t, "client-sidecar", "sidecar", "--xds", xds, "--node-id", "client", "--admin", fmt.Sprintf("127.0.0.1:%d", admin))
	waitReady(t, admin)
	url := fmt.Sprintf("http://127.0.0.1:%d/", upstream)
	for range 3 {
		if code, body, err := httpGet(http.DefaultClient, url); err == nil && code == 200 {
			t.Fatalf("request reached a server with web's certificate as api: %s", body)
		}
	}
	writeFile(t, path, services(right))
	eventually(t, "the upstream with api's certificate", func() bool {
		code, _, err := httpGet(http.DefaultClient, url)
		return err == nil && code == 200
	})
}

// tlsBackend serves HTTP over TLS with a leaf for spiffeID from authority,
// requiring a client certificate from it; it returns its port.
func tlsBackend(t *testing.T, authority *ca.CA, spiffeID string) int {
	t.Helper()
	leaf, err := authority.Issue(spiffeID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(authority.RootsPEM())
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, spiffeID)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// selfSigned returns a certificate for spiffeID from a CA nobody trusts.
func selfSigned(t *testing.T, spiffeID string) tls.Certificate {
	t.Helper()
	other, err := ca.Generate("other.mesh")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := other.Issue(spiffeID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
