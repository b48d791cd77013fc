package transport

import (
	"crypto/tls"
	"fmt"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// ModernCipherSuites are the TLS 1.2 suites used when none are
// configured: ECDHE key exchange with AEAD ciphers only (no CBC, no RSA
// key exchange), as Mozilla's intermediate profile.
var ModernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// commonConfig returns the tls.Config parts that c sets on either side.
func commonConfig(c *spec.TLSCommon) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:   c.MinVersion,
		MaxVersion:   c.MaxVersion,
		CipherSuites: c.CipherSuites,
		NextProtos:   c.ALPN,
	}
	if len(cfg.CipherSuites) == 0 {
		cfg.CipherSuites = ModernCipherSuites
	}
	for i, cert := range c.Certificates {
		kp, err := tls.X509KeyPair(cert.Chain, cert.Key)
		if err != nil {
			return nil, fmt.Errorf("tls_certificates[%d]: %w", i, err)
		}
		cfg.Certificates = append(cfg.Certificates, kp)
	}
	if v := c.Validation; v != nil {
		vf, err := newVerifier(v)
		if err != nil {
			return nil, fmt.Errorf("validation_context: %w", err)
		}
		cfg.VerifyConnection = vf.verify
	}
	return cfg, nil
}

// ServerConfig returns the crypto/tls configuration of a terminating
// chain. A client certificate is requested when t has a validation
// context, required when t.RequireClientCert, and verified whenever one
// is sent.
func ServerConfig(t *spec.DownstreamTLS) (*tls.Config, error) {
	cfg, err := commonConfig(&t.TLSCommon)
	if err != nil {
		return nil, err
	}
	if len(cfg.Certificates) == 0 {
		return nil, fmt.Errorf("tls_certificates: a terminating chain needs a certificate")
	}
	switch {
	case t.RequireClientCert:
		cfg.ClientAuth = tls.RequireAnyClientCert
	case t.Validation != nil:
		cfg.ClientAuth = tls.RequestClientCert
	}
	return cfg, nil
}

// ClientConfig returns the crypto/tls configuration of an originating
// transport. Like Envoy, it verifies the server's certificate only
// against the validation context, never against the SNI, and accepts any
// certificate when there is none. Sessions are resumed.
func ClientConfig(t *spec.UpstreamTLS) (*tls.Config, error) {
	cfg, err := commonConfig(&t.TLSCommon)
	if err != nil {
		return nil, err
	}
	cfg.ServerName = t.SNI
	// Verification is VerifyConnection's (it runs on resumed sessions
	// too); Go's own would check the SNI, which Envoy does not.
	cfg.InsecureSkipVerify = true
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	return cfg, nil
}
