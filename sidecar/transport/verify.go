package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// errNoSANMatch refuses a peer certificate whose subject alternative
// names match none of the configured matchers.
var errNoSANMatch = errors.New("peer certificate: no subject alternative name matches")

// verifier checks a peer's certificate chain against trusted roots and
// its subject alternative names against matchers. Immutable.
type verifier struct {
	roots *x509.CertPool
	sans  []sanMatcher
}

type sanMatcher struct {
	typ spec.SANType
	m   stringMatcher
}

func newVerifier(v *spec.Validation) (*verifier, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(v.TrustedCA) {
		return nil, errors.New("trusted_ca: no PEM certificate found")
	}
	out := &verifier{roots: roots}
	for i, s := range v.SubjectAltNames {
		m, err := compileString(s.Match)
		if err != nil {
			return nil, fmt.Errorf("match_typed_subject_alt_names[%d]: %w", i, err)
		}
		out.sans = append(out.sans, sanMatcher{typ: s.Type, m: m})
	}
	return out, nil
}

// verify is a tls.Config.VerifyConnection: a peer without a certificate
// passes (ClientAuth decides whether one is required); one with a
// certificate must chain to the roots and match a SAN matcher.
func (v *verifier) verify(cs tls.ConnectionState) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	opts := x509.VerifyOptions{Roots: v.roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("verifying peer certificate: %w", err)
	}
	if len(v.sans) > 0 && !v.matchSAN(certs[0]) {
		return errNoSANMatch
	}
	return nil
}

// matchSAN reports whether one of c's SANs matches one of the matchers.
func (v *verifier) matchSAN(c *x509.Certificate) bool {
	for _, s := range v.sans {
		switch s.typ {
		case spec.SANURI:
			for _, u := range c.URIs {
				if s.m.matches(u.String()) {
					return true
				}
			}
		case spec.SANDNS:
			for _, d := range c.DNSNames {
				if s.m.matchesDNS(d) {
					return true
				}
			}
		}
	}
	return false
}

// stringMatcher is a compiled spec.StringMatch.
type stringMatcher struct {
	spec.StringMatch
	re *regexp.Regexp
}

func compileString(m spec.StringMatch) (stringMatcher, error) {
	out := stringMatcher{StringMatch: m}
	if m.Kind == spec.MatchRegex {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return out, err
		}
		out.re = re
	}
	return out, nil
}

func (m *stringMatcher) matches(s string) bool {
	v := m.Value
	if m.IgnoreCase {
		s, v = strings.ToLower(s), strings.ToLower(v)
	}
	switch m.Kind {
	case spec.MatchExact:
		return s == v
	case spec.MatchPrefix:
		return strings.HasPrefix(s, v)
	case spec.MatchSuffix:
		return strings.HasSuffix(s, v)
	case spec.MatchContains:
		return strings.Contains(s, v)
	case spec.MatchRegex:
		return m.re.MatchString(s)
	}
	return false
}

// matchesDNS is matches for a DNS SAN: an exact matcher also accepts a
// wildcard SAN ("*.example.com") covering its value, as Envoy's
// dnsNameMatch does.
func (m *stringMatcher) matchesDNS(san string) bool {
	if m.matches(san) {
		return true
	}
	if m.Kind != spec.MatchExact || !strings.HasPrefix(san, "*.") {
		return false
	}
	_, rest, ok := strings.Cut(m.Value, ".")
	return ok && strings.EqualFold(rest, san[2:])
}
