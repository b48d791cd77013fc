package transport

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Upstream is the TLS transport of a cluster (Envoy's UpstreamTlsContext):
// it dials TCP and runs the client handshake. Immutable and safe for
// concurrent use.
type Upstream struct {
	cfg *tls.Config
	key string
}

var _ cluster.Transport = (*Upstream)(nil)

// NewUpstream returns the transport for t.
func NewUpstream(t *spec.UpstreamTLS) (*Upstream, error) {
	cfg, err := ClientConfig(t)
	if err != nil {
		return nil, err
	}
	return &Upstream{cfg: cfg, key: upstreamKey(t)}, nil
}

// Dial connects to addr and completes the handshake, both until ctx is
// done.
func (u *Upstream) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, u.cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// Key names what makes this transport's connections distinct: the SNI,
// the ALPN list, and hashes of the client certificates, of the trusted
// CA, and of the rest (SAN matchers, versions, cipher suites), as in
// "tls|sni=api|alpn=http/1.1|cert=3f2a..|ca=91bc..|params=07de..".
func (u *Upstream) Key() string { return u.key }

func upstreamKey(t *spec.UpstreamTLS) string {
	var certs, ca []byte
	for _, c := range t.Certificates {
		certs = append(append(certs, c.Chain...), c.Key...)
	}
	params := fmt.Sprintf("%d-%d %v", t.MinVersion, t.MaxVersion, t.CipherSuites)
	if v := t.Validation; v != nil {
		ca = v.TrustedCA
		params += fmt.Sprintf(" %v", v.SubjectAltNames)
	}
	return "tls|sni=" + t.SNI + "|alpn=" + strings.Join(t.ALPN, ",") +
		"|cert=" + digest(certs) + "|ca=" + digest(ca) + "|params=" + digest([]byte(params))
}

// digest is a short hex SHA-256 of b.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
