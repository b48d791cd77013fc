package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// TestServerTLSParams: a terminating chain's tls_maximum_protocol_version,
// cipher_suites and alpn_protocols decide what a client negotiates, and a
// client that offers only other suites is refused.
func TestServerTLSParams(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	server := ca.Leaf(t, apiID, "api.mesh.local")
	const suite = tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
	d := &spec.DownstreamTLS{
		TLSCommon: spec.TLSCommon{
			Certificates: []spec.Certificate{{Chain: server.Cert, Key: server.Key}},
			ALPN:         []string{"http/1.1"},
			MinVersion:   spec.TLS12, MaxVersion: spec.TLS12,
			CipherSuites: []uint16{suite},
		},
		HandshakeTimeout: 5 * time.Second,
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tests := []struct {
		name    string
		suites  []uint16 // offered by the client; nil: Go's defaults
		want    string   // version, suite and protocol negotiated; "" for a refusal
		wantErr string   // in the server's handshake error
	}{
		{"negotiates the configured parameters", nil,
			fmt.Sprintf("%x %s http/1.1", spec.TLS12, tls.CipherSuiteName(suite)), ""},
		{"refuses other suites", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, "", "no cipher suite supported by both client and server"},
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
			c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "api.mesh.local",
				CipherSuites: tt.suites, NextProtos: []string{"h2", "http/1.1"}})
			cerr := c.Handshake()
			if tt.want == "" {
				if serr := <-done; cerr == nil || serr == nil || !strings.Contains(serr.Error(), tt.wantErr) {
					t.Fatalf("client %v, server %v; want a refusal containing %q", cerr, serr, tt.wantErr)
				}
				return
			}
			if cerr != nil {
				t.Fatal(cerr)
			}
			st := c.ConnectionState()
			if got := fmt.Sprintf("%x %s %s", st.Version, tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol); got != tt.want {
				t.Errorf("negotiated %q, want %q", got, tt.want)
			}
			io.WriteString(c, "abc")
			buf := make([]byte, 3)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "abc" {
				t.Errorf("echo %q, %v", buf, err)
			}
			<-done
		})
	}
}

// TestUpstreamSNIAndALPN: an upstream TLS context's sni is the server name
// the upstream sees, and its alpn_protocols are the protocols offered.
func TestUpstreamSNIAndALPN(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	hello := make(chan string, 1)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{ca.Leaf(t, apiID).TLS(t)},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hello <- h.ServerName + " " + strings.Join(h.SupportedProtos, ",")
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	defer func() { ln.Close(); <-served }()
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.(*tls.Conn).Handshake()
	}()
	tr, err := NewUpstream(&spec.UpstreamTLS{SNI: "api.example", TLSCommon: spec.TLSCommon{
		ALPN: []string{"http/1.1"}, MinVersion: spec.TLS12, MaxVersion: spec.TLS13}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tr.Dial(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case got := <-hello:
		if want := "api.example http/1.1"; got != want {
			t.Errorf("server saw %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ClientHello")
	}
}

// TestServerMinVersion: tls_minimum_protocol_version TLS 1.3 refuses a
// TLS 1.2 client, which Go's own defaults would accept.
func TestServerMinVersion(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	server := ca.Leaf(t, apiID, "api.mesh.local")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, tt := range []struct {
		min     uint16
		wantErr bool
	}{{spec.TLS12, false}, {spec.TLS13, true}} {
		t.Run(fmt.Sprintf("min %x", tt.min), func(t *testing.T) {
			d := &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{Certificates: []spec.Certificate{{Chain: server.Cert, Key: server.Key}},
				MinVersion: tt.min, MaxVersion: spec.TLS13}, HandshakeTimeout: 5 * time.Second}
			addr, done := serveOnce(t, d)
			raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(5 * time.Second))
			c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "api.mesh.local", MaxVersion: tls.VersionTLS12})
			cerr := c.Handshake()
			if cerr == nil {
				io.WriteString(c, "abc")
				io.ReadFull(c, make([]byte, 3))
			}
			serr := <-done
			if got := cerr != nil && serr != nil; got != tt.wantErr {
				t.Errorf("TLS 1.2 client against minimum %x: client %v, server %v; want refused %v", tt.min, cerr, serr, tt.wantErr)
			}
		})
	}
}
