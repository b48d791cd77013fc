package ca

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestIssueVerifies checks that a leaf chains to the CA, carries its
// SPIFFE ID as the only URI SAN, serves both ends of a connection, and
// expires after ttl.
func TestIssueVerifies(t *testing.T) {
	c, err := Generate("mesh.local")
	if err != nil {
		t.Fatal(err)
	}
	const id = "spiffe://mesh.local/ns/default/dc/dc1/svc/web"
	leaf, err := c.Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(leaf.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(c.RootsPEM())
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("verify for %v: %v", usage, err)
		}
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != id {
		t.Errorf("URIs = %v, want [%s]", cert.URIs, id)
	}
	if d := time.Until(cert.NotAfter); d > time.Hour || d < 50*time.Minute {
		t.Errorf("leaf valid for %v more, want about 1h", d)
	}
}

// TestLoadOrGenerateKeepsCA shows a CA generated into a state directory
// is loaded again, not replaced, and its key is private to the owner.
func TestLoadOrGenerateKeepsCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	a, err := LoadOrGenerate(dir, "mesh.local")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrGenerate(dir, "mesh.local")
	if err != nil {
		t.Fatal(err)
	}
	if string(a.RootsPEM()) != string(b.RootsPEM()) {
		t.Error("second LoadOrGenerate made a new CA")
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := Load(filepath.Join(dir, KeyFile), filepath.Join(dir, KeyFile)); err == nil {
		t.Error("Load accepted a key as certificate")
	}
}
