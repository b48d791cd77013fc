// Package ca is a small certificate authority for meshes without Consul:
// it loads or generates a CA and issues each service a short-lived leaf
// certificate whose URI SAN is the service's SPIFFE ID, as Consul's
// Connect CA does.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/meshlb/meshlb/discovery"
)

// File names of a CA kept in a state directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// caValidity is how long a generated CA is valid.
const caValidity = 10 * 365 * 24 * time.Hour

// CA signs leaf certificates. It is safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

// RootsPEM returns the CA certificate, PEM encoded.
func (c *CA) RootsPEM() []byte { return c.pem }

// Generate returns a new self-signed ECDSA P-256 CA for trustDomain.
func Generate(trustDomain string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	u, err := url.Parse("spiffe://" + trustDomain)
	if err != nil {
		return nil, fmt.Errorf("parsing trust domain: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "meshlb CA " + trustDomain},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(caValidity), URIs: []*url.URL{u},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Load reads a CA certificate and its private key, both PEM, from files.
func Load(certFile, keyFile string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("loading CA: %s is not a CA certificate", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("loading CA: %s: unsupported key type", keyFile)
	}
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	return &CA{cert: cert, key: key, pem: b}, nil
}

// LoadOrGenerate loads the CA kept in dir ([CertFile], [KeyFile]), or
// generates one for trustDomain and writes it there (the key mode 0600),
// so a restarted control server keeps its CA.
func LoadOrGenerate(dir, trustDomain string) (*CA, error) {
	certFile, keyFile := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	if _, err := os.Stat(certFile); err == nil {
		return Load(certFile, keyFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	c, err := Generate(trustDomain)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, fmt.Errorf("encoding CA key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("writing CA key: %w", err)
	}
	if err := os.WriteFile(certFile, c.pem, 0o644); err != nil {
		return nil, fmt.Errorf("writing CA certificate: %w", err)
	}
	return c, nil
}

// Issue returns a new ECDSA P-256 leaf for spiffeID, valid for ttl, usable
// as client and server certificate; its chain is the leaf alone.
func (c *CA) Issue(spiffeID string, ttl time.Duration) (discovery.Leaf, error) {
	u, err := url.Parse(spiffeID)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("parsing SPIFFE ID: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("generating leaf key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return discovery.Leaf{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: u.Path},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(ttl), URIs: []*url.URL{u},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("signing leaf for %s: %w", spiffeID, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("encoding leaf key: %w", err)
	}
	return discovery.Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return n, nil
}

// IssueServer returns a new ECDSA P-256 server certificate for host (an
// IP address or DNS name), valid for ttl: for the control server's xDS
// port, which sidecars reach by address.
func (c *CA) IssueServer(host string, ttl time.Duration) (discovery.Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("generating server key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return discovery.Leaf{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(ttl),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("signing server certificate for %s: %w", host, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return discovery.Leaf{}, fmt.Errorf("encoding server key: %w", err)
	}
	return discovery.Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}
