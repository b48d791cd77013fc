package spec

import "time"

// TLS versions, as their wire values (crypto/tls's VersionTLS12 and
// VersionTLS13). Older versions are never configured.
const (
	TLS12 uint16 = 0x0303
	TLS13 uint16 = 0x0304
)

// TLSCommon is what Envoy's CommonTlsContext configures on either side of
// a TLS connection.
type TLSCommon struct {
	// Certificates are presented to the peer; the handshake picks one by
	// the server name and the peer's supported algorithms.
	Certificates []Certificate
	// Validation, when set, verifies the peer's certificate.
	Validation *Validation
	// CertificateSDS and ValidationSDS name SDS secrets that supply more
	// Certificates and the Validation. The xDS client resolves them
	// ([TLSCommon.WithSecrets]) before a Set reaches the data plane, which
	// reads Certificates and Validation only.
	CertificateSDS []string
	ValidationSDS  string
	// ALPN lists the application protocols offered (client) or accepted in
	// order of preference (server).
	ALPN []string
	// MinVersion and MaxVersion bound the protocol version (TLS12 or
	// TLS13); decoders fill Envoy's defaults.
	MinVersion, MaxVersion uint16
	// CipherSuites restricts the TLS 1.2 cipher suites, by IANA id; nil
	// means the ECDHE+AEAD set. TLS 1.3 suites are not configurable.
	CipherSuites []uint16
}

// Certificate is a PEM certificate chain, leaf first, and its PEM private
// key.
type Certificate struct {
	Chain, Key []byte
}

// Validation verifies a peer certificate: it must chain to TrustedCA and,
// when SubjectAltNames is not empty, have a subject alternative name that
// one of them matches.
type Validation struct {
	TrustedCA       []byte // PEM
	SubjectAltNames []SANMatch
}

// SANType is the kind of subject alternative name a [SANMatch] looks at.
type SANType int

// Subject alternative name kinds, as Envoy's SubjectAltNameMatcher.san_type.
const (
	SANDNS SANType = iota + 1
	SANURI
)

// SANMatch matches the certificate's subject alternative names of one
// type, as a SPIFFE ID in a URI SAN.
type SANMatch struct {
	Type  SANType
	Match StringMatch
}

// DownstreamTLS terminates TLS on a filter chain (Envoy's
// DownstreamTlsContext).
type DownstreamTLS struct {
	TLSCommon
	// RequireClientCert refuses clients without a valid certificate; it
	// needs Validation. Without it, a certificate the client sends is still
	// verified when Validation is set.
	RequireClientCert bool
	// HandshakeTimeout bounds the handshake (the chain's
	// transport_socket_connect_timeout); decoders fill a default.
	HandshakeTimeout time.Duration
}

// UpstreamTLS originates TLS to a cluster's endpoints (Envoy's
// UpstreamTlsContext).
type UpstreamTLS struct {
	TLSCommon
	// SNI is the server name sent, if any.
	SNI string
}

// Secret is an SDS secret (Envoy's transport_sockets.tls.v3.Secret): a
// certificate to present or a validation context, never both.
type Secret struct {
	Name        string
	Certificate *Certificate
	Validation  *Validation
}

// SecretNames appends to out the SDS secrets c names that out lacks.
func (c *TLSCommon) SecretNames(out []string) []string {
	for _, name := range c.CertificateSDS {
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	if c.ValidationSDS != "" && !contains(out, c.ValidationSDS) {
		out = append(out, c.ValidationSDS)
	}
	return out
}

// WithSecrets returns a copy of c with the secrets it names resolved by
// get: their certificates appended to Certificates and the validation
// context as Validation. A secret get does not have (nil), or of the other
// kind, supplies nothing: the handshake then fails as it would in Envoy
// without the certificate.
func (c TLSCommon) WithSecrets(get func(string) *Secret) TLSCommon {
	if len(c.CertificateSDS) > 0 {
		c.Certificates = append([]Certificate(nil), c.Certificates...)
		for _, name := range c.CertificateSDS {
			if s := get(name); s != nil && s.Certificate != nil {
				c.Certificates = append(c.Certificates, *s.Certificate)
			}
		}
	}
	if c.ValidationSDS != "" {
		c.Validation = nil
		if s := get(c.ValidationSDS); s != nil {
			c.Validation = s.Validation
		}
	}
	return c
}

// SecretNames returns the SDS secrets the listener's chains name, without
// repeats.
func (l *Listener) SecretNames() []string {
	var out []string
	for fc := range l.Chains {
		if fc.TLS != nil {
			out = fc.TLS.SecretNames(out)
		}
	}
	return out
}

// WithSecrets returns l, or, if it names SDS secrets, a copy of l whose
// chains have them resolved by get (see [TLSCommon.WithSecrets]).
func (l *Listener) WithSecrets(get func(string) *Secret) *Listener {
	if len(l.SecretNames()) == 0 {
		return l
	}
	n := *l
	n.FilterChains = append([]FilterChain(nil), l.FilterChains...)
	if l.Default != nil {
		d := *l.Default
		n.Default = &d
	}
	for fc := range n.Chains {
		if fc.TLS != nil && len(fc.TLS.SecretNames(nil)) > 0 {
			t := *fc.TLS
			t.TLSCommon = t.TLSCommon.WithSecrets(get)
			fc.TLS = &t
		}
	}
	return &n
}

// SecretNames returns the SDS secrets the cluster's TLS names.
func (c *Cluster) SecretNames() []string {
	if c.TLS == nil {
		return nil
	}
	return c.TLS.SecretNames(nil)
}

// WithSecrets returns c, or, if its TLS names SDS secrets, a copy of c
// with them resolved by get (see [TLSCommon.WithSecrets]).
func (c *Cluster) WithSecrets(get func(string) *Secret) *Cluster {
	if len(c.SecretNames()) == 0 {
		return c
	}
	n := *c
	t := *c.TLS
	t.TLSCommon = t.TLSCommon.WithSecrets(get)
	n.TLS = &t
	return &n
}
