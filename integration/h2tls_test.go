package integration

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/discovery/ca"
)

// downstreamTLSSocket writes a server certificate for 127.0.0.1 and
// returns a filter chain's transport_socket offering alpn by ALPN, in the
// indentation [h2BootstrapTLS] takes.
func downstreamTLSSocket(t *testing.T, alpn ...string) string {
	t.Helper()
	authority, err := ca.Generate("h2.test")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := authority.IssueServer("127.0.0.1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for name, b := range map[string][]byte{certFile: leaf.CertPEM, keyFile: leaf.KeyPEM} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`transport_socket:
        name: tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: [%s]
            tls_certificates:
            - certificate_chain: { filename: %q }
              private_key: { filename: %q }
      `, strings.Join(alpn, ", "), certFile, keyFile)
}

// TestH2OverTLS: a TLS listener of codec_type AUTO offering h2 and
// http/1.1 by ALPN serves a client that negotiates h2 over HTTP/2 and one
// that offers only http/1.1 over HTTP/1.1; under codec_type HTTP2 a
// client that negotiates h2 is served HTTP/2 too.
func TestH2OverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := kiloBackend(t)
	socket := downstreamTLSSocket(t, "h2", "http/1.1")
	h1 := &http.Client{Timeout: waitTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}}
	h2 := &http.Client{Timeout: waitTimeout, Transport: &http2.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		codec  string
		client *http.Client
		proto  string
	}{
		{"AUTO", h2, "HTTP/2.0"},
		{"AUTO", h1, "HTTP/1.1"},
		{"HTTP2", h2, "HTTP/2.0"},
	} {
		t.Run(tc.codec+" "+tc.proto, func(t *testing.T) {
			adminPort, port := freePort(t), freePort(t)
			start(t, "sidecar", "sidecar", "--config", h2BootstrapTLS(t, adminPort, port, be, tc.codec, socket))
			waitReady(t, adminPort)
			resp, err := tc.client.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != tc.proto || resp.TLS == nil {
				t.Errorf("got %d %s (TLS %v), want 200 %s over TLS", resp.StatusCode, resp.Proto, resp.TLS != nil, tc.proto)
			}
		})
	}
}
