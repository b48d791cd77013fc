package transport

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// BenchmarkMTLSHandshake measures one full mutual TLS 1.3 handshake
// (no resumption, ECDSA P-256, SPIFFE SAN check) between the server and
// upstream transports over a loopback pair: both sides' CPU.
func BenchmarkMTLSHandshake(b *testing.B) {
	ca := transporttest.NewCA(b, "mesh")
	srv, cli := ca.Leaf(b, apiID), ca.Leaf(b, webID)
	accept, err := NewServer(&spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: []spec.Certificate{{Chain: srv.Cert, Key: srv.Key}},
		Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeMatch(webID)},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS13}, RequireClientCert: true})
	if err != nil {
		b.Fatal(err)
	}
	ccfg, err := ClientConfig(&spec.UpstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: []spec.Certificate{{Chain: cli.Cert, Key: cli.Key}},
		Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeMatch(apiID)},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS13}})
	if err != nil {
		b.Fatal(err)
	}
	ccfg.ClientSessionCache = nil
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, c := net.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := accept(ctx, a)
			done <- err
		}()
		tc := tls.Client(c, ccfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		a.Close()
		c.Close()
	}
}
