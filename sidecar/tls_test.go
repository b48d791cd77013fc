package sidecar

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

const (
	webSPIFFE = "spiffe://mesh.local/ns/default/dc/dc1/svc/web"
	apiSPIFFE = "spiffe://mesh.local/ns/default/dc/dc1/svc/api"
)

func spiffeSAN(id string) []spec.SANMatch {
	return []spec.SANMatch{{Type: spec.SANURI, Match: spec.StringMatch{Kind: spec.MatchExact, Value: id}}}
}

func certOf(p transporttest.Pair) []spec.Certificate {
	return []spec.Certificate{{Chain: p.Cert, Key: p.Key}}
}

// httpsClient trusts ca, presents certs and sends SNI server.
func httpsClient(ca *transporttest.CA, server string, certs ...tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: server, Certificates: certs}}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// TestMTLSHop: web's outbound listener originates mTLS to api's inbound
// listener, which requires a client certificate with web's SPIFFE ID;
// the request reaches api's app. The inbound listener refuses
// plaintext, a self-signed certificate, and a valid certificate for
// another service.
func TestMTLSHop(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	inbound, outbound := freeAddr(t), freeAddr(t)
	in := httpListener("inbound", inbound, "app")
	in.FilterChains[0].TLS = &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: certOf(ca.Leaf(t, apiSPIFFE, "api.mesh.local")),
		Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(webSPIFFE)},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS13,
	}, RequireClientCert: true}
	api := staticCluster("api", inbound)
	api.TLS = &spec.UpstreamTLS{SNI: "api.mesh.local", TLSCommon: spec.TLSCommon{
		Certificates: certOf(ca.Leaf(t, webSPIFFE)),
		Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(apiSPIFFE)},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS12,
	}}
	set := &config.Set{
		Clusters:  []config.Cluster{staticCluster("app", named(t, "api app")), api},
		Listeners: []config.Listener{in, httpListener("outbound", outbound, "api")},
	}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	defer plain.CloseIdleConnections()
	for range 3 {
		if got := body(t, plain, "http://"+outbound+"/"); got != "api app" {
			t.Fatalf("through the mTLS hop: %q, want %q", got, "api app")
		}
	}
	if n := s.current.Load().Clusters["api"].Stats.CxTotal.Load(); n != 1 {
		t.Errorf("upstream_cx_total %d, want 1: the TLS connection is reused", n)
	}
	refused := map[string]*http.Client{
		"plaintext":         plain,
		"no certificate":    httpsClient(ca, "api.mesh.local"),
		"self-signed":       httpsClient(ca, "api.mesh.local", transporttest.SelfSigned(t, webSPIFFE).TLS(t)),
		"another service":   httpsClient(ca, "api.mesh.local", ca.Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/db").TLS(t)),
		"TLS 1.1 with cert": tls11Client(ca, ca.Leaf(t, webSPIFFE).TLS(t)),
	}
	for name, c := range refused {
		scheme := "https://"
		if name == "plaintext" {
			scheme = "http://"
		}
		if resp, err := c.Get(scheme + inbound + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: inbound answered %s, want the connection refused", name, resp.Status)
		}
	}
	if got := body(t, httpsClient(ca, "api.mesh.local", ca.Leaf(t, webSPIFFE).TLS(t)), "https://"+inbound+"/"); got != "api app" {
		t.Errorf("direct mTLS client got %q", got)
	}
}

func tls11Client(ca *transporttest.CA, cert tls.Certificate) *http.Client {
	c := httpsClient(ca, "api.mesh.local", cert)
	cfg := c.Transport.(*http.Transport).TLSClientConfig
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	return c
}

// TestSNISelectsTerminatingChain: chains that terminate TLS with their
// own certificates are selected by the client's SNI (server_names).
func TestSNISelectsTerminatingChain(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	addr := freeAddr(t)
	chain := func(name, cluster string) config.FilterChain {
		fc := httpListener(name, addr, cluster).FilterChains[0]
		fc.Match = spec.FilterChainMatch{ServerNames: []string{name}}
		fc.TLS = &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{Certificates: certOf(ca.Leaf(t, "", name)),
			MinVersion: spec.TLS12, MaxVersion: spec.TLS13}}
		return fc
	}
	set := &config.Set{
		Clusters: []config.Cluster{staticCluster("a", named(t, "a")), staticCluster("b", named(t, "b"))},
		Listeners: []config.Listener{{Name: "sni", Address: addr, TLSInspector: &spec.TLSInspector{Timeout: 5 * time.Second},
			FilterChains: []config.FilterChain{chain("a.example.com", "a"), chain("b.example.com", "b")}}},
	}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, name := range []string{"a.example.com", "b.example.com"} {
		c := httpsClient(ca, name) // verifies the chain's certificate names name
		got = append(got, body(t, c, "https://"+addr+"/"))
		c.CloseIdleConnections()
	}
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
}

// TestTLSTerminatingTCPProxy: a tcp_proxy chain that terminates mTLS
// relays the decrypted bytes to its cluster, both ways, for a TLS client
// and through an mTLS hop from a plaintext tcp_proxy listener whose
// cluster originates TLS.
func TestTLSTerminatingTCPProxy(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	inbound, outbound := freeAddr(t), freeAddr(t)
	in := tcpListener("in", inbound, "echo")
	in.FilterChains[0].TLS = &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: certOf(ca.Leaf(t, apiSPIFFE, "echo")),
		Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(webSPIFFE)},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS13}, RequireClientCert: true}
	hop := staticCluster("hop", inbound)
	hop.TLS = &spec.UpstreamTLS{TLSCommon: spec.TLSCommon{Certificates: certOf(ca.Leaf(t, webSPIFFE)),
		Validation: &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(apiSPIFFE)},
		MinVersion: spec.TLS12, MaxVersion: spec.TLS13}}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("echo", echoServer(t, "echo")), hop},
		Listeners: []config.Listener{in, tcpListener("out", outbound, "hop")}}); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	direct, err := tls.Dial("tcp", inbound, &tls.Config{RootCAs: roots, ServerName: "echo",
		Certificates: []tls.Certificate{ca.Leaf(t, webSPIFFE).TLS(t)}})
	if err != nil {
		t.Fatal(err)
	}
	viaHop, err := net.Dial("tcp", outbound)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"TLS client": direct, "mTLS hop": viaHop} {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		rd := bufio.NewReader(c)
		greet, _ := rd.ReadString('\n')
		io.WriteString(c, "ping\n")
		echo, _ := rd.ReadString('\n')
		if diff := cmp.Diff([]string{"echo\n", "ping\n"}, []string{greet, echo}); diff != "" {
			t.Errorf("%s: relayed (-want +got):\n%s", name, diff)
		}
	}
}
