package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// tlsEcho serves TLS with cert on loopback, requiring a client
// certificate from ca, and writes the peer's URI SAN to each client.
func tlsEcho(t *testing.T, cert transporttest.Pair, ca *transporttest.CA) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.TLS(t)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	return loopback.Serve(t, ln, func(_ context.Context, c net.Conn) {
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if tc.Handshake() == nil {
			io.WriteString(tc, tc.ConnectionState().PeerCertificates[0].URIs[0].String())
		}
	})
}

// TestUpstreamDial: the upstream transport presents its client
// certificate and verifies the server's chain and SPIFFE ID.
func TestUpstreamDial(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	addr := tlsEcho(t, ca.Leaf(t, apiID), ca)
	web := ca.Leaf(t, webID)
	base := spec.UpstreamTLS{SNI: "api", TLSCommon: spec.TLSCommon{
		Certificates: []spec.Certificate{{Chain: web.Cert, Key: web.Key}}, MinVersion: spec.TLS12, MaxVersion: spec.TLS13}}
	tests := []struct {
		name       string
		validation *spec.Validation
		wantErr    string
	}{
		{"SPIFFE ID matches", &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeMatch(apiID)}, ""},
		{"SPIFFE prefix matches", &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: []spec.SANMatch{
			{Type: spec.SANURI, Match: spec.StringMatch{Kind: spec.MatchRegex, Value: `spiffe://mesh\.local/.*/svc/api`}}}}, ""},
		{"wrong SPIFFE ID", &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeMatch(webID)}, "no subject alternative name matches"},
		{"other CA", &spec.Validation{TrustedCA: transporttest.NewCA(t, "other").PEM}, "unknown authority"},
		{"no validation context", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := base
			u.Validation = tt.validation
			tr, err := NewUpstream(&u)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := tr.Dial(ctx, addr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, _ := io.ReadAll(c)
			if string(got) != webID {
				t.Errorf("server saw client %q, want %q", got, webID)
			}
		})
	}
}

// TestUpstreamKeys: transports that make different connections have
// different keys, so the registry never shares a pool between them (nor
// with plaintext) to the same address; equal configurations share.
func TestUpstreamKeys(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	web, db := ca.Leaf(t, webID), ca.Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/db")
	mk := func(edit func(*spec.UpstreamTLS)) cluster.Transport {
		u := spec.UpstreamTLS{SNI: "api", TLSCommon: spec.TLSCommon{Certificates: []spec.Certificate{{Chain: web.Cert, Key: web.Key}},
			Validation: &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeMatch(apiID)},
			ALPN:       []string{"http/1.1"}, MinVersion: spec.TLS12, MaxVersion: spec.TLS12}}
		if edit != nil {
			edit(&u)
		}
		tr, err := NewUpstream(&u)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	variants := map[string]cluster.Transport{
		"plain":  cluster.Plain,
		"base":   mk(nil),
		"sni":    mk(func(u *spec.UpstreamTLS) { u.SNI = "other" }),
		"alpn":   mk(func(u *spec.UpstreamTLS) { u.ALPN = nil }),
		"cert":   mk(func(u *spec.UpstreamTLS) { u.Certificates = []spec.Certificate{{Chain: db.Cert, Key: db.Key}} }),
		"ca":     mk(func(u *spec.UpstreamTLS) { u.Validation.TrustedCA = transporttest.NewCA(t, "o").PEM }),
		"san":    mk(func(u *spec.UpstreamTLS) { u.Validation.SubjectAltNames = spiffeMatch(webID) }),
		"tls1.3": mk(func(u *spec.UpstreamTLS) { u.MaxVersion = spec.TLS13 }),
	}
	reg := cluster.NewRegistry()
	defer reg.Close()
	const addr = "127.0.0.1:9"
	seen := map[*cluster.State]string{}
	for name, tr := range variants {
		st := reg.Get(addr, tr)
		if other, dup := seen[st]; dup {
			t.Errorf("%s and %s share endpoint state (key %q)", name, other, tr.Key())
		}
		seen[st] = name
	}
	if reg.Get(addr, mk(nil)) != reg.Get(addr, variants["base"]) {
		t.Error("equal TLS configurations do not share endpoint state")
	}
	if k := variants["base"].Key(); !strings.HasPrefix(k, "tls|sni=api|alpn=http/1.1|cert=") {
		t.Errorf("key %q does not name SNI and ALPN", k)
	}
}
