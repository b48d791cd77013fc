package config

import (
	"crypto/tls"
	"os"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rawbufferv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	transportSocketFields = allow(&corev3.TransportSocket{}, "name", "typed_config")
	downstreamTLSFields   = allow(&tlsv3.DownstreamTlsContext{}, "common_tls_context", "require_client_certificate")
	upstreamTLSFields     = allow(&tlsv3.UpstreamTlsContext{}, "common_tls_context", "sni")
	commonTLSFields       = allow(&tlsv3.CommonTlsContext{}, "tls_params", "tls_certificates", "validation_context", "alpn_protocols",
		"tls_certificate_sds_secret_configs", "validation_context_sds_secret_config")
	sdsSecretFields      = allow(&tlsv3.SdsSecretConfig{}, "name", "sds_config")
	tlsParamsFields      = allow(&tlsv3.TlsParameters{}, "tls_minimum_protocol_version", "tls_maximum_protocol_version", "cipher_suites")
	tlsCertificateFields = allow(&tlsv3.TlsCertificate{}, "certificate_chain", "private_key")
	validationFields     = allow(&tlsv3.CertificateValidationContext{}, "trusted_ca", "match_typed_subject_alt_names")
	sanMatcherFields     = allow(&tlsv3.SubjectAltNameMatcher{}, "san_type", "matcher")
	tlsDataSourceFields  = allow(&corev3.DataSource{}, "filename", "inline_bytes", "inline_string")

	downstreamTLSType = typeURL(&tlsv3.DownstreamTlsContext{})
	upstreamTLSType   = typeURL(&tlsv3.UpstreamTlsContext{})
	rawBufferType     = typeURL(&rawbufferv3.RawBuffer{})
)

// tlsVersions are the protocol versions tls_params may name: TLS 1.0 and
// 1.1 are refused.
var tlsVersions = map[tlsv3.TlsParameters_TlsProtocol]uint16{
	tlsv3.TlsParameters_TLSv1_2: spec.TLS12,
	tlsv3.TlsParameters_TLSv1_3: spec.TLS13,
}

// cipherSuites are the TLS 1.2 suites cipher_suites may name (OpenSSL
// names, as Envoy): ECDHE with AEAD ciphers only.
var cipherSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// transportSocketConfig checks ts and returns its typed_config's type URL
// ("" for none or raw_buffer, which mean plaintext).
func transportSocketConfig(ts *corev3.TransportSocket) (string, error) {
	if ts == nil {
		return "", nil
	}
	if err := transportSocketFields.check(ts); err != nil {
		return "", err
	}
	url := ts.GetTypedConfig().GetTypeUrl()
	switch url {
	case "":
		return "", errorf("typed_config", "required")
	case rawBufferType:
		return "", nil
	}
	return url, nil
}

// decodeDownstreamTLS decodes a chain's transport_socket; nil for
// plaintext. httpOnly says the chain's terminal filter is an HTTP
// connection manager of codec_type HTTP1: ALPN may not offer anything
// but HTTP/1 then. Under AUTO or HTTP2 it may offer "h2", which a
// connection that negotiates it is served ([spec.CodecAuto]).
func decodeDownstreamTLS(ts *corev3.TransportSocket, httpOnly bool) (*spec.DownstreamTLS, error) {
	url, err := transportSocketConfig(ts)
	if url == "" || err != nil {
		return nil, err
	}
	if url != downstreamTLSType {
		return nil, errorf("typed_config", "unsupported transport socket %q", url)
	}
	d := &tlsv3.DownstreamTlsContext{}
	if err := unpack(ts.GetTypedConfig(), d); err != nil {
		return nil, within("typed_config", err)
	}
	out, err := decodeDownstreamContext(d, httpOnly)
	if err != nil {
		return nil, within("typed_config", err)
	}
	return out, nil
}

func decodeDownstreamContext(d *tlsv3.DownstreamTlsContext, httpOnly bool) (*spec.DownstreamTLS, error) {
	if err := downstreamTLSFields.check(d); err != nil {
		return nil, err
	}
	out := &spec.DownstreamTLS{RequireClientCert: d.GetRequireClientCertificate().GetValue()}
	if err := decodeCommonTLS(d.GetCommonTlsContext(), &out.TLSCommon, spec.TLS13); err != nil {
		return nil, within("common_tls_context", err)
	}
	if len(out.Certificates)+len(out.CertificateSDS) == 0 {
		return nil, errorf("common_tls_context.tls_certificates", "a terminating chain needs a certificate")
	}
	if out.RequireClientCert && out.Validation == nil && out.ValidationSDS == "" {
		return nil, errorf("require_client_certificate", "needs common_tls_context.validation_context to verify the certificate")
	}
	if httpOnly {
		for i, p := range out.ALPN {
			if p != "http/1.1" && p != "http/1.0" {
				return nil, errorf("common_tls_context."+index("alpn_protocols", i),
					"%q is not supported: the http_connection_manager's codec_type is HTTP1", p)
			}
		}
	}
	return out, nil
}

// decodeUpstreamTLS decodes a cluster's transport_socket; nil for
// plaintext. auto says the cluster picks its protocol by ALPN
// (auto_config): its ALPN may offer h2, and offers h2 and http/1.1 when
// alpn_protocols is empty, as Envoy's fallback ALPN does.
func decodeUpstreamTLS(ts *corev3.TransportSocket, auto bool) (*spec.UpstreamTLS, error) {
	url, err := transportSocketConfig(ts)
	if url == "" || err != nil {
		return nil, err
	}
	if url != upstreamTLSType {
		return nil, errorf("typed_config", "unsupported transport socket %q", url)
	}
	u := &tlsv3.UpstreamTlsContext{}
	if err := unpack(ts.GetTypedConfig(), u); err != nil {
		return nil, within("typed_config", err)
	}
	if err := upstreamTLSFields.check(u); err != nil {
		return nil, within("typed_config", err)
	}
	out := &spec.UpstreamTLS{SNI: u.GetSni()}
	// Envoy's clients default to TLS 1.2 at most.
	if err := decodeCommonTLS(u.GetCommonTlsContext(), &out.TLSCommon, spec.TLS12); err != nil {
		return nil, within("typed_config.common_tls_context", err)
	}
	if auto {
		if len(out.ALPN) == 0 {
			out.ALPN = []string{"h2", "http/1.1"}
		}
		return out, nil
	}
	for i, p := range out.ALPN {
		if p == "h2" || p == "h2c" {
			return nil, errorf("typed_config.common_tls_context."+index("alpn_protocols", i),
				"%q is not supported: only under HttpProtocolOptions.auto_config", p)
		}
	}
	return out, nil
}

// decodeCommonTLS decodes c into out; maxDefault is the side's default
// maximum version.
func decodeCommonTLS(c *tlsv3.CommonTlsContext, out *spec.TLSCommon, maxDefault uint16) error {
	if err := commonTLSFields.check(c); err != nil {
		return err
	}
	out.ALPN = c.GetAlpnProtocols()
	if err := decodeTLSParams(c.GetTlsParams(), out, maxDefault); err != nil {
		return within("tls_params", err)
	}
	for i, tc := range c.GetTlsCertificates() {
		cert, err := decodeCertificate(tc)
		if err != nil {
			return within(index("tls_certificates", i), err)
		}
		out.Certificates = append(out.Certificates, cert)
	}
	for i, sc := range c.GetTlsCertificateSdsSecretConfigs() {
		name, err := decodeSDSSecretConfig(sc)
		if err != nil {
			return within(index("tls_certificate_sds_secret_configs", i), err)
		}
		out.CertificateSDS = append(out.CertificateSDS, name)
	}
	if sc := c.GetValidationContextSdsSecretConfig(); sc != nil {
		name, err := decodeSDSSecretConfig(sc)
		if err != nil {
			return within("validation_context_sds_secret_config", err)
		}
		out.ValidationSDS = name
	}
	if vc := c.GetValidationContext(); vc != nil {
		v, err := decodeValidation(vc)
		if err != nil {
			return within("validation_context", err)
		}
		out.Validation = v
	}
	return nil
}

func decodeTLSParams(p *tlsv3.TlsParameters, out *spec.TLSCommon, maxDefault uint16) error {
	out.MinVersion, out.MaxVersion = spec.TLS12, maxDefault
	if err := tlsParamsFields.check(p); err != nil {
		return err
	}
	var err error
	if out.MinVersion, err = tlsVersion(p.GetTlsMinimumProtocolVersion(), spec.TLS12); err != nil {
		return within("tls_minimum_protocol_version", err)
	}
	if out.MaxVersion, err = tlsVersion(p.GetTlsMaximumProtocolVersion(), maxDefault); err != nil {
		return within("tls_maximum_protocol_version", err)
	}
	if out.MinVersion > out.MaxVersion {
		return errorf("tls_minimum_protocol_version", "is above tls_maximum_protocol_version")
	}
	for i, name := range p.GetCipherSuites() {
		id, ok := cipherSuites[name]
		if !ok {
			return errorf(index("cipher_suites", i), "%q is not supported: only ECDHE suites with AES-GCM or ChaCha20-Poly1305 are", name)
		}
		out.CipherSuites = append(out.CipherSuites, id)
	}
	return nil
}

// tlsVersion maps v to a wire version; TLS_AUTO is def.
func tlsVersion(v tlsv3.TlsParameters_TlsProtocol, def uint16) (uint16, error) {
	if v == tlsv3.TlsParameters_TLS_AUTO {
		return def, nil
	}
	if out, ok := tlsVersions[v]; ok {
		return out, nil
	}
	return 0, errorf("", "%s is not supported: TLS 1.2 and 1.3 only", v)
}

func decodeCertificate(tc *tlsv3.TlsCertificate) (spec.Certificate, error) {
	if err := tlsCertificateFields.check(tc); err != nil {
		return spec.Certificate{}, err
	}
	chain, err := dataSource(tc.GetCertificateChain())
	if err != nil {
		return spec.Certificate{}, within("certificate_chain", err)
	}
	key, err := dataSource(tc.GetPrivateKey())
	if err != nil {
		return spec.Certificate{}, within("private_key", err)
	}
	if _, err := tls.X509KeyPair(chain, key); err != nil {
		return spec.Certificate{}, errorf("", "%v", err)
	}
	return spec.Certificate{Chain: chain, Key: key}, nil
}

func decodeValidation(vc *tlsv3.CertificateValidationContext) (*spec.Validation, error) {
	if err := validationFields.check(vc); err != nil {
		return nil, err
	}
	if vc.GetTrustedCa() == nil {
		return nil, errorf("trusted_ca", "required: peer certificates are verified against it")
	}
	ca, err := dataSource(vc.GetTrustedCa())
	if err != nil {
		return nil, within("trusted_ca", err)
	}
	if !strings.Contains(string(ca), "-----BEGIN CERTIFICATE-----") {
		return nil, errorf("trusted_ca", "no PEM certificate found")
	}
	out := &spec.Validation{TrustedCA: ca}
	for i, m := range vc.GetMatchTypedSubjectAltNames() {
		san, err := decodeSANMatcher(m)
		if err != nil {
			return nil, within(index("match_typed_subject_alt_names", i), err)
		}
		out.SubjectAltNames = append(out.SubjectAltNames, san)
	}
	return out, nil
}

func decodeSANMatcher(m *tlsv3.SubjectAltNameMatcher) (spec.SANMatch, error) {
	if err := sanMatcherFields.check(m); err != nil {
		return spec.SANMatch{}, err
	}
	var out spec.SANMatch
	switch m.GetSanType() {
	case tlsv3.SubjectAltNameMatcher_URI:
		out.Type = spec.SANURI
	case tlsv3.SubjectAltNameMatcher_DNS:
		out.Type = spec.SANDNS
	default:
		return out, errorf("san_type", "%s is not supported: URI and DNS only", m.GetSanType())
	}
	sm, err := decodeStringMatch(m.GetMatcher())
	if err != nil {
		return out, within("matcher", err)
	}
	out.Match = sm
	return out, nil
}

// dataSource returns the bytes of d: inline, or read from its file.
func dataSource(d *corev3.DataSource) ([]byte, error) {
	if err := tlsDataSourceFields.check(d); err != nil {
		return nil, err
	}
	switch s := d.GetSpecifier().(type) {
	case *corev3.DataSource_InlineBytes:
		return s.InlineBytes, nil
	case *corev3.DataSource_InlineString:
		return []byte(s.InlineString), nil
	case *corev3.DataSource_Filename:
		b, err := os.ReadFile(s.Filename)
		if err != nil {
			return nil, errorf("filename", "%v", err)
		}
		return b, nil
	}
	return nil, errorf("", "one of filename, inline_bytes or inline_string is required")
}

// decodeSDSSecretConfig returns the name of the secret sc refers to, which
// must come over ADS (sds_config: {ads: {}}).
func decodeSDSSecretConfig(sc *tlsv3.SdsSecretConfig) (string, error) {
	if err := sdsSecretFields.check(sc); err != nil {
		return "", err
	}
	if sc.GetName() == "" {
		return "", errorf("name", "required")
	}
	cs := sc.GetSdsConfig()
	if cs == nil {
		return "", errorf("sds_config", "required: secrets are fetched over ADS (sds_config: {ads: {}})")
	}
	if _, err := decodeADSSource(cs); err != nil {
		return "", within("sds_config", err)
	}
	if cs.GetInitialFetchTimeout() != nil {
		return "", errorf("sds_config.initial_fetch_timeout", "not supported")
	}
	return sc.GetName(), nil
}
