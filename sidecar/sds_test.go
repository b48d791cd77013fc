package sidecar

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// TestSecretRotationKeepsConnections applies a listener whose certificate
// changed, as the xDS client does when a new version of its SDS secret
// arrives: a new client sees the new certificate while a connection made
// before keeps working.
func TestSecretRotationKeepsConnections(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	inbound := freeAddr(t)
	echo := staticCluster("echo", echoServer(t, "echo"))
	apply := func(p transporttest.Pair) {
		t.Helper()
		in := tcpListener("in", inbound, "echo")
		in.FilterChains[0].TLS = &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
			Certificates: certOf(p), CertificateSDS: []string{"web"},
			MinVersion: spec.TLS12, MaxVersion: spec.TLS13}}
		if err := s.Apply(&config.Set{Clusters: []config.Cluster{echo}, Listeners: []config.Listener{in}}); err != nil {
			t.Fatal(err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	dial := func() (*tls.Conn, *bufio.Reader) {
		t.Helper()
		c, err := tls.Dial("tcp", inbound, &tls.Config{RootCAs: roots, ServerName: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		rd := bufio.NewReader(c)
		if greet, _ := rd.ReadString('\n'); greet != "echo\n" {
			t.Fatalf("greeting %q", greet)
		}
		return c, rd
	}
	ping := func(c *tls.Conn, rd *bufio.Reader) string {
		io.WriteString(c, "ping\n")
		got, _ := rd.ReadString('\n')
		return got
	}
	v1, v2 := ca.Leaf(t, webSPIFFE, "echo"), ca.Leaf(t, webSPIFFE, "echo")
	apply(v1)
	old, oldRd := dial()
	if !bytes.Equal(old.ConnectionState().PeerCertificates[0].Raw, v1.TLS(t).Certificate[0]) {
		t.Fatal("first client did not see the first certificate")
	}
	apply(v2)
	fresh, freshRd := dial()
	if !bytes.Equal(fresh.ConnectionState().PeerCertificates[0].Raw, v2.TLS(t).Certificate[0]) {
		t.Error("a client after the rotation did not see the new certificate")
	}
	if got := ping(fresh, freshRd); got != "ping\n" {
		t.Errorf("new connection relayed %q", got)
	}
	if got := ping(old, oldRd); got != "ping\n" {
		t.Errorf("connection made before the rotation relayed %q, want it kept", got)
	}
}
