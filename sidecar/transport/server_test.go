package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

const (
	webID = "spiffe://mesh.local/ns/default/dc/dc1/svc/web"
	apiID = "spiffe://mesh.local/ns/default/dc/dc1/svc/api"
)

// spiffeMatch matches the SPIFFE ID id exactly.
func spiffeMatch(id string) []spec.SANMatch {
	return []spec.SANMatch{{Type: spec.SANURI, Match: spec.StringMatch{Kind: spec.MatchExact, Value: id}}}
}

// serveOnce runs the server transport for t on one accepted loopback
// connection, echoing back when the handshake succeeds, and
// returns its address and the handshake's outcome.
// It echoes the first 3 bytes.
func serveOnce(t *testing.T, d *spec.DownstreamTLS) (string, <-chan error) {
	t.Helper()
	tr, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc, err := tr(context.Background(), c)
		done <- err
		if err == nil {
			io.CopyN(tc, tc, 3)
			tc.Close()
		}
	}()
	return ln.Addr().String(), done
}

// TestServerHandshake: a terminating chain that requires a client
// certificate admits a certificate from its CA with the SPIFFE ID it
// expects, and refuses plaintext, no certificate, a self-signed one, the
// wrong SPIFFE ID and TLS 1.1.
func TestServerHandshake(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	server := ca.Leaf(t, apiID, "api.mesh.local")
	d := &spec.DownstreamTLS{
		TLSCommon: spec.TLSCommon{
			Certificates: []spec.Certificate{{Chain: server.Cert, Key: server.Key}},
			Validation:   &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeMatch(webID)},
			MinVersion:   spec.TLS12, MaxVersion: spec.TLS13,
		},
		RequireClientCert: true,
		HandshakeTimeout:  5 * time.Second,
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "api.mesh.local", Certificates: certs}
	}
	tests := []struct {
		name    string
		cfg     *tls.Config // nil: plaintext
		wantErr string      // in the server's handshake error; "" for success
	}{
		{"valid client certificate", client(ca.Leaf(t, webID).TLS(t)), ""},
		{"valid client certificate over TLS 1.2", func() *tls.Config {
			c := client(ca.Leaf(t, webID).TLS(t))
			c.MaxVersion = tls.VersionTLS12
			return c
		}(), ""},
		{"no client certificate", client(), "client didn't provide a certificate"},
		{"self-signed", client(transporttest.SelfSigned(t, webID).TLS(t)), "unknown authority"},
		{"wrong SPIFFE ID", client(ca.Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/db").TLS(t)), "no subject alternative name matches"},
		{"TLS 1.1", func() *tls.Config {
			c := client(ca.Leaf(t, webID).TLS(t))
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			return c
		}(), "unsupported versions"},
		{"plaintext", nil, "first record does not look like a TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, done := serveOnce(t, d)
			raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(5 * time.Second))
			var c net.Conn = raw
			if tt.cfg != nil {
				tc := tls.Client(raw, tt.cfg)
				tc.Handshake() // a TLS 1.3 client learns of a refusal on its first read
				c = tc
			}
			io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
			buf := make([]byte, 3)
			_, rerr := io.ReadFull(c, buf)
			serr := <-done
			if tt.wantErr == "" {
				if serr != nil || rerr != nil || string(buf) != "GET" {
					t.Fatalf("server %v, client read %q, %v; want an echo", serr, buf, rerr)
				}
				return
			}
			if serr == nil || !strings.Contains(serr.Error(), tt.wantErr) {
				t.Fatalf("server handshake error %v, want one containing %q", serr, tt.wantErr)
			}
			if rerr == nil {
				t.Fatalf("client read %q from a refused connection", buf)
			}
		})
	}
}

// TestServerHandshakeTimeout: a client that never finishes its handshake
// is cut off at the handshake timeout.
func TestServerHandshakeTimeout(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	server := ca.Leaf(t, apiID)
	d := &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{Certificates: []spec.Certificate{{Chain: server.Cert, Key: server.Key}},
		MinVersion: spec.TLS12, MaxVersion: spec.TLS13}, HandshakeTimeout: 100 * time.Millisecond}
	addr, done := serveOnce(t, d)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("handshake error %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handshake was not cut off")
	}
}
