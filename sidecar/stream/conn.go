package stream

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
)

// Conn is what filters may know of a downstream connection: its
// addresses and, once its TLS handshake is done, the peer's certificate.
// The filter chain makes one per connection after the transport socket's
// handshake, before any filter or codec reads a byte; it is immutable
// after that (its lazily computed digests aside, which are safe for
// concurrent use) and shared by the connection's streams.
type Conn struct {
	// ID numbers the connection, from 1, unique in the process
	// (%CONNECTION_ID%); 0 when the maker did not number it.
	ID uint64
	// Local is the address the client connected to.
	Local netip.AddrPort
	// Remote is the client as the listener infers it (Envoy's remote
	// address); DirectRemote is the socket's peer. They differ only
	// where a listener derives the client from elsewhere (PROXY
	// protocol), which meshlb does not yet.
	Remote, DirectRemote netip.AddrPort
	// TLS is nil on a plaintext connection.
	TLS *TLS
}

// TLS is what a TLS connection's handshake established.
type TLS struct {
	// ServerName is the SNI the client sent.
	ServerName string
	// PeerChain is the client's certificate chain, leaf first, verified
	// against the chain's validation context; empty when the client
	// sent none.
	PeerChain []*x509.Certificate
	// PeerURIs, PeerDNS and PeerSubject are the leaf's URI SANs (a
	// SPIFFE ID), DNS SANs and subject (RFC 2253).
	PeerURIs, PeerDNS []string
	PeerSubject       string
	// LocalURIs are the URI SANs of the certificate the listener
	// presented.
	LocalURIs []string

	hashOnce  sync.Once
	hash      string
	certOnce  sync.Once
	cert      string
	chainOnce sync.Once
	chain     string
}

// AddrPort returns a TCP address as a netip.AddrPort, IPv4 unmapped; the
// zero value for another kind of address.
func AddrPort(a net.Addr) netip.AddrPort {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := t.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

var lastConnID atomic.Uint64

// NextConnID returns a new connection id for [Conn.ID].
func NextConnID() uint64 { return lastConnID.Add(1) }

// NewTLS returns the TLS facts of a handshake that established cs, on a
// listener presenting a certificate with the URI SANs localURIs.
func NewTLS(cs *tls.ConnectionState, localURIs []string) *TLS {
	t := &TLS{ServerName: cs.ServerName, PeerChain: cs.PeerCertificates, LocalURIs: localURIs}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		t.PeerURIs = URIs(leaf)
		t.PeerDNS = leaf.DNSNames
		t.PeerSubject = leaf.Subject.String()
	}
	return t
}

// URIs returns the URI SANs of c as text.
func URIs(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}

// PeerPresented reports whether the client sent a certificate (mutual
// TLS).
func (t *TLS) PeerPresented() bool { return t != nil && len(t.PeerChain) > 0 }

// PeerHash returns the SHA-256 digest of the peer certificate's DER, in
// lower-case hex, or "" when there is none. Computed once.
func (t *TLS) PeerHash() string {
	t.hashOnce.Do(func() {
		if len(t.PeerChain) > 0 {
			sum := sha256.Sum256(t.PeerChain[0].Raw)
			t.hash = hex.EncodeToString(sum[:])
		}
	})
	return t.hash
}

// PeerCertPEM returns the peer certificate as URL-encoded PEM (as
// Envoy's XFCC Cert), or "". Computed once.
func (t *TLS) PeerCertPEM() string {
	t.certOnce.Do(func() {
		if len(t.PeerChain) > 0 {
			t.cert = escapedPEM(t.PeerChain[:1])
		}
	})
	return t.cert
}

// PeerChainPEM returns the peer's chain as URL-encoded PEM (as Envoy's
// XFCC Chain), or "". Computed once.
func (t *TLS) PeerChainPEM() string {
	t.chainOnce.Do(func() { t.chain = escapedPEM(t.PeerChain) })
	return t.chain
}

func escapedPEM(certs []*x509.Certificate) string {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return pemEscaper.Replace(string(b))
}

// pemEscaper URL-encodes PEM as Envoy's XFCC does: exactly these five
// characters.
var pemEscaper = strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D")

type connKey struct{}

// connCtx is a context that carries a Conn and remembers the context it
// was made from (see [ListenerContext]).
type connCtx struct {
	context.Context
	conn *Conn
}

func (c *connCtx) Value(k any) any {
	if _, ok := k.(connKey); ok {
		return c.conn
	}
	return c.Context.Value(k)
}

// WithConn returns ctx carrying c, for the terminal filter of c's
// connection.
func WithConn(ctx context.Context, c *Conn) context.Context {
	return &connCtx{Context: ctx, conn: c}
}

// ConnFrom returns the Conn ctx carries, or nil.
func ConnFrom(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// ListenerContext returns the context ctx was made from by [WithConn]
// (the listener's, shared by its connections), or ctx itself: for state
// a terminal filter keys by its listener's context rather than by
// connection.
func ListenerContext(ctx context.Context) context.Context {
	if c, ok := ctx.(*connCtx); ok {
		return c.Context
	}
	return ctx
}
