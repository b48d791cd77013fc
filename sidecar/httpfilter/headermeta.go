package httpfilter

import (
	"fmt"
	"regexp"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func init() { Register(headerToMetadataBuilder{}) }

// Metadatum is one dynamic metadata value a filter set on a stream
// (Envoy's dynamic metadata: a key under a namespace). A later value for
// the same namespace and key replaces an earlier one.
type Metadatum struct {
	Namespace, Key, Value string
}

// SetMetadata sets namespace/key to value on the stream.
func (s *Stream) SetMetadata(namespace, key, value string) {
	for i := range s.Metadata {
		if m := &s.Metadata[i]; m.Namespace == namespace && m.Key == key {
			m.Value = value
			return
		}
	}
	s.Metadata = append(s.Metadata, Metadatum{Namespace: namespace, Key: key, Value: value})
}

// LookupMetadata returns the value of namespace/key and whether it is set.
func (s *Stream) LookupMetadata(namespace, key string) (string, bool) {
	for _, m := range s.Metadata {
		if m.Namespace == namespace && m.Key == key {
			return m.Value, true
		}
	}
	return "", false
}

type headerToMetadataBuilder struct{}

func (headerToMetadataBuilder) TypeURL() string { return spec.HeaderToMetadataType }

// Build compiles a *spec.HeaderToMetadata: Envoy's header_to_metadata
// filter on requests. Consul uses it to put the caller's SPIFFE ID parts
// (trust domain, namespace, datacenter, service) from the XFCC header
// under the "consul" namespace. A request whose rule's header is present
// costs the regex rewrite's allocations; rules whose header is absent
// cost none.
func (headerToMetadataBuilder) Build(cfg any, _ Env) (Filter, error) {
	c, ok := cfg.(*spec.HeaderToMetadata)
	if !ok {
		return nil, fmt.Errorf("header_to_metadata: config is %T, want *spec.HeaderToMetadata", cfg)
	}
	if len(c.Rules) == 0 {
		return nil, nil
	}
	f := &headerToMetadata{}
	for i, r := range c.Rules {
		cr := h2mRule{header: r.Header, remove: r.Remove, present: r.Present, missing: r.Missing}
		if r.Present != nil && r.Present.Regex != "" {
			re, err := regexp.Compile(r.Present.Regex)
			if err != nil {
				return nil, fmt.Errorf("header_to_metadata: request_rules[%d]: %w", i, err)
			}
			cr.re = re
		}
		f.rules = append(f.rules, cr)
	}
	return f, nil
}

type headerToMetadata struct {
	rules []h2mRule
}

type h2mRule struct {
	header           string
	present, missing *spec.MetadataValue
	re               *regexp.Regexp // present's rewrite, or nil
	remove           bool
}

func (f *headerToMetadata) RequestHeaders(s *Stream) Status {
	for i := range f.rules {
		r := &f.rules[i]
		v, ok := s.Request.Header(r.header)
		switch {
		case ok && r.present != nil:
			if val := r.value(v); val != "" {
				s.SetMetadata(r.present.Namespace, r.present.Key, val)
			}
		case !ok && r.missing != nil:
			s.SetMetadata(r.missing.Namespace, r.missing.Key, r.missing.Value)
		}
		if ok && r.remove {
			s.Request.Headers = removeHeader(s.Request.Headers, r.header)
		}
	}
	return Continue
}

// value is the metadata value for the header value v.
func (r *h2mRule) value(v []byte) string {
	switch {
	case r.present.Value != "":
		return r.present.Value
	case r.re != nil:
		return string(r.re.ReplaceAll(v, []byte(r.present.Substitution)))
	}
	return string(v)
}

// removeHeader drops every header named lower (in lower case), in place.
func removeHeader(hs []route.Header, lower string) []route.Header {
	out := hs[:0]
	for _, h := range hs {
		if !ascii.EqualFoldLower(h.Name, lower) {
			out = append(out, h)
		}
	}
	return out
}
