package config

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestDecodeSecret(t *testing.T) {
	f := newTLSFixture(t)
	common := f.common()
	cert := common.GetTlsCertificates()[0]
	tests := []struct {
		name string
		in   *tlsv3.Secret
		want *spec.Secret
	}{{
		name: "certificate",
		in:   &tlsv3.Secret{Name: "web", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: cert}},
		want: &spec.Secret{Name: "web", Certificate: &spec.Certificate{Chain: f.leaf.Cert, Key: f.leaf.Key}},
	}, {
		name: "validation",
		in:   &tlsv3.Secret{Name: "roots", Type: &tlsv3.Secret_ValidationContext{ValidationContext: common.GetValidationContext()}},
		want: &spec.Secret{Name: "roots", Validation: f.validation()},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeSecretErrors(t *testing.T) {
	f := newTLSFixture(t)
	tests := []struct {
		name string
		in   *tlsv3.Secret
		want string
	}{{
		name: "empty",
		in:   &tlsv3.Secret{Name: "s"},
		want: `secret "s": one of tls_certificate or validation_context is required`,
	}, {
		name: "session ticket keys",
		in:   &tlsv3.Secret{Name: "s", Type: &tlsv3.Secret_SessionTicketKeys{SessionTicketKeys: &tlsv3.TlsSessionTicketKeys{}}},
		want: `secret "s": session_ticket_keys: not supported`,
	}, {
		name: "no private key",
		in: &tlsv3.Secret{Name: "s", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inline(f.leaf.Cert)}}},
		want: `secret "s": tls_certificate.private_key: one of filename, inline_bytes or inline_string is required`,
	}, {
		name: "password",
		in: &tlsv3.Secret{Name: "s", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inline(f.leaf.Cert), PrivateKey: inline(f.leaf.Key), Password: inline([]byte("x"))}}},
		want: `secret "s": tls_certificate.password: not supported`,
	}, {
		name: "validation without a CA",
		in: &tlsv3.Secret{Name: "s", Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "junk"}}}}},
		want: `secret "s": validation_context.trusted_ca: no PEM certificate found`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSecret(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}
