package config

import (
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var secretFields = allow(&tlsv3.Secret{}, "name", "tls_certificate", "validation_context")

// DecodeSecret validates an SDS Secret and decodes it. It must hold a
// tls_certificate or a validation_context; an error names the secret and
// the field, as in
//
//	secret "web": tls_certificate.private_key: required
//
// Files a data source names are read now. DecodeSecret is safe for
// concurrent use and does not retain s.
func DecodeSecret(s *tlsv3.Secret) (*spec.Secret, error) {
	out, err := decodeSecret(s)
	if err != nil {
		return nil, &resourceError{kind: "secret", name: s.GetName(), err: err}
	}
	return out, nil
}

func decodeSecret(s *tlsv3.Secret) (*spec.Secret, error) {
	if err := secretFields.check(s); err != nil {
		return nil, err
	}
	out := &spec.Secret{Name: s.GetName()}
	switch {
	case s.GetTlsCertificate() != nil:
		cert, err := decodeCertificate(s.GetTlsCertificate())
		if err != nil {
			return nil, within("tls_certificate", err)
		}
		out.Certificate = &cert
	case s.GetValidationContext() != nil:
		v, err := decodeValidation(s.GetValidationContext())
		if err != nil {
			return nil, within("validation_context", err)
		}
		out.Validation = v
	default:
		return nil, errorf("", "one of tls_certificate or validation_context is required")
	}
	return out, nil
}
