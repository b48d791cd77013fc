package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// connectPair is two services with meshlb sidecars under Consul Connect:
// "web" calls "api" (HTTP) through its upstream; api's sidecar terminates
// mTLS on its public port.
type connectPair struct {
	consul             *consulAgent
	api                *backend
	xds                string
	public, upstream   int
	apiAdmin, webAdmin int
	apiSidecar         *process
}

// registerProxied registers service name on backend port and its
// connect-proxy "<name>-sidecar-proxy" on public, with upstreams.
func (a *consulAgent) registerProxied(name string, port, public int, ups ...api.Upstream) {
	a.t.Helper()
	a.register(&api.AgentServiceRegistration{ID: name, Name: name, Address: "127.0.0.1", Port: port})
	a.register(&api.AgentServiceRegistration{
		Kind: api.ServiceKindConnectProxy, ID: name + "-sidecar-proxy", Name: name + "-sidecar-proxy",
		Address: "127.0.0.1", Port: public,
		Proxy: &api.AgentServiceConnectProxyConfig{DestinationServiceName: name, DestinationServiceID: name,
			LocalServicePort: port, Upstreams: ups},
	})
}

func startConnectPair(t *testing.T, a *consulAgent, controlArgs ...string) *connectPair {
	t.Helper()
	p := &connectPair{consul: a, api: startBackend(t, "api"), xds: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		public: freePort(t), upstream: freePort(t), apiAdmin: freePort(t), webAdmin: freePort(t)}
	a.setProtocol("api", "http")
	a.registerProxied("api", p.api.port, p.public)
	a.registerProxied("web", freePort(t), freePort(t), api.Upstream{DestinationName: "api", LocalBindPort: p.upstream})
	args := append([]string{"control", "--consul", "--xds-addr", p.xds}, a.meshFlags()...)
	start(t, "control", append(args, controlArgs...)...)
	for _, s := range []struct {
		name  string
		admin int
	}{{"api", p.apiAdmin}, {"web", p.webAdmin}} {
		proc := start(t, s.name+" sidecar", append([]string{"sidecar", "--xds", p.xds, "-sidecar-for", s.name,
			"--admin", fmt.Sprintf("127.0.0.1:%d", s.admin)}, a.meshFlags()...)...)
		if s.name == "api" {
			p.apiSidecar = proc
		}
	}
	waitReady(t, p.apiAdmin)
	waitReady(t, p.webAdmin)
	return p
}

func (p *connectPair) url() string        { return fmt.Sprintf("http://127.0.0.1:%d/", p.upstream) }
func (p *connectPair) publicAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.public) }

// spiffeFor returns the SPIFFE ID Consul gives service name.
func (a *consulAgent) spiffeFor(name string) string {
	a.t.Helper()
	roots, _, err := a.client.Agent().ConnectCARoots(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return "spiffe://" + roots.TrustDomain + "/ns/default/dc/dc1/svc/" + name
}

// connectLeaf returns a valid Connect certificate for service name.
func (a *consulAgent) connectLeaf(name string) tls.Certificate {
	a.t.Helper()
	lc, _, err := a.client.Agent().ConnectCALeaf(name, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	c, err := tls.X509KeyPair([]byte(lc.CertPEM), []byte(lc.PrivateKeyPEM))
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// TestConsulConnectMTLS runs two services with meshlb sidecars under
// Consul Connect: traffic flows over mTLS with Consul's leaf certificates;
// api's public listener presents api's SPIFFE ID, and refuses plaintext,
// a client without a certificate and a self-signed certificate, while a
// Connect certificate passes the handshake.
func TestConsulConnectMTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	p := startConnectPair(t, a)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "web to reach api over mTLS", func() bool {
		code, body, err := httpGet(c, p.url())
		return err == nil && code == 200 && body == "api"
	})
	if plaintextAnswered(p.publicAddr()) {
		t.Error("api's public listener answered plaintext")
	}
	uris, answered := peerSPIFFE(t, p.publicAddr(), nil)
	if want := a.spiffeFor("api"); len(uris) != 1 || uris[0] != want {
		t.Errorf("api's public listener presents %v, want [%s]", uris, want)
	}
	if answered {
		t.Error("api's public listener served a client without a certificate")
	}
	self := selfSigned(t, a.spiffeFor("web"))
	if _, answered := peerSPIFFE(t, p.publicAddr(), &self); answered {
		t.Error("api's public listener served a self-signed certificate")
	}
	good := a.connectLeaf("web")
	if _, answered := peerSPIFFE(t, p.publicAddr(), &good); !answered {
		t.Error("api's public listener refused a Connect certificate")
	}
}

// TestConsulCARotation rotates Consul's Connect CA to a new key under
// steady load through the mTLS hop: no request fails, and api's sidecar
// serves a leaf from the new CA.
func TestConsulCARotation(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	p := startConnectPair(t, a)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "web to reach api over mTLS", func() bool {
		code, _, err := httpGet(c, p.url())
		return err == nil && code == 200
	})
	before := serverCert(t, p.publicAddr())
	ld := startLoad(p.url(), 4)
	time.Sleep(500 * time.Millisecond) // load before the rotation
	roots, _, err := a.client.Agent().ConnectCARoots(nil)
	if err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	if _, err := a.client.Connect().CASetConfig(&api.CAConfig{Provider: "consul",
		Config: map[string]any{"PrivateKey": newKeyPEM(t)}}, nil); err != nil {
		t.Fatalf("setting the CA config: %v", err)
	}
	// Consul's agent spreads the re-signing of leaves after a root change
	// over a random delay of up to 30 s (agent/leafcert's
	// caChangeJitterWindow), and the control server polls leaves every 5 s.
	took := eventuallyWithin(t, 30*time.Second+2*waitTimeout, "api's sidecar to serve a leaf from the new CA", func() bool {
		cert := serverCert(t, p.publicAddr())
		return cert != nil && !strings.EqualFold(cert.AuthorityKeyId2(), before.AuthorityKeyId2())
	})
	t.Logf("new leaf served %v after the rotation (old root %s)", took, roots.ActiveRootID)
	time.Sleep(time.Second) // load after the rotation
	ok, fail, errs := ld.finish()
	t.Logf("%d requests, %d failed across the rotation (%v)", ok+fail, fail, time.Since(rotated))
	if fail != 0 || ok == 0 {
		t.Errorf("%d of %d requests failed across the CA rotation: %v", fail, ok+fail, errs)
	}
}

// serverCert returns the certificate the TLS listener at addr presents.
func serverCert(t *testing.T, addr string) *certInfo {
	t.Helper()
	var got *x509.Certificate
	cfg := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		got = cs.PeerCertificates[0]
		return nil
	}}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, cfg)
	if err == nil {
		conn.Close()
	}
	if got == nil {
		return nil
	}
	return &certInfo{got}
}

type certInfo struct{ *x509.Certificate }

// AuthorityKeyId2 names the key that signed the certificate.
func (c *certInfo) AuthorityKeyId2() string { return fmt.Sprintf("%x", c.AuthorityKeyId) }

// newKeyPEM returns a new EC P-256 private key, PEM encoded, for a CA.
func newKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}
