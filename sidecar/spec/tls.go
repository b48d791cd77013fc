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
