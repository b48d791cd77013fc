package config

import (
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

const h2mFilter = `
      - name: envoy.filters.http.header_to_metadata
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.header_to_metadata.v3.Config
          request_rules:
`

// Consul's rule (RE2's \5 becomes Go's ${5}) and Envoy's defaults.
func TestDecodeHeaderToMetadata(t *testing.T) {
	rules := h2mFilter + `          - header: X-Forwarded-Client-Cert
            on_header_present:
              metadata_namespace: consul
              key: service
              regex_value_rewrite: {pattern: {regex: ".*/svc/([^/;,]+).*"}, substitution: "\\1 costs $5"}
          - {header: x-tenant, on_header_present: {key: tenant}, on_header_missing: {key: tenant, value: none}, remove: true}
`
	l, err := DecodeListener(fromYAML(t, filterListener(rules), &listenerv3.Listener{}))
	if err != nil {
		t.Fatal(err)
	}
	want := &spec.HeaderToMetadata{Rules: []spec.HeaderToMetadataRule{
		{Header: "x-forwarded-client-cert", Present: &spec.MetadataValue{Namespace: "consul", Key: "service",
			Regex: ".*/svc/([^/;,]+).*", Substitution: "${1} costs $$5"}},
		{Header: "x-tenant", Remove: true,
			Present: &spec.MetadataValue{Namespace: headerToMetadataNamespace, Key: "tenant"},
			Missing: &spec.MetadataValue{Namespace: headerToMetadataNamespace, Key: "tenant", Value: "none"}},
	}}
	if diff := cmp.Diff(want, l.FilterChains[0].HTTP.Filters[0].Config); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

func TestDecodeHeaderToMetadataErrors(t *testing.T) {
	tests := []struct{ name, rules, want string }{
		{"cookie", `          - {cookie: c, on_header_present: {key: k}}`, "request_rules[0].cookie: not supported"},
		{"typed value", `          - {header: h, on_header_present: {key: k, type: NUMBER}}`, "on_header_present.type: NUMBER is not supported"},
		{"missing without value", `          - {header: h, on_header_missing: {key: k}}`, "on_header_missing.value: required"},
		{"bad regex", `          - {header: h, on_header_present: {key: k, regex_value_rewrite: {pattern: {regex: "("}, substitution: x}}}`,
			"regex_value_rewrite.pattern.regex: error parsing regexp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeListener(fromYAML(t, filterListener(h2mFilter+tc.rules+"\n"), &listenerv3.Listener{}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
