package httpfilter

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// consulXFCCRule is one of the rules Consul puts on a public listener
// (the substitution as sidecar/config translates RE2's \1).
func consulXFCCRule(key, group string) spec.HeaderToMetadataRule {
	return spec.HeaderToMetadataRule{Header: "x-forwarded-client-cert", Present: &spec.MetadataValue{
		Namespace: "consul", Key: key,
		Regex:        `.*URI=spiffe://([^/]+.[^/]+)(?:/ap/([^/]+))?/ns/([^/]+)/dc/([^/]+)/svc/([^/;,]+).*`,
		Substitution: "${" + group + "}"}}
}

func TestHeaderToMetadata(t *testing.T) {
	cfg := &spec.HeaderToMetadata{Rules: []spec.HeaderToMetadataRule{
		consulXFCCRule("trust-domain", "1"), consulXFCCRule("namespace", "3"),
		consulXFCCRule("datacenter", "4"), consulXFCCRule("service", "5"),
		{Header: "x-tenant", Present: &spec.MetadataValue{Namespace: "app", Key: "tenant"},
			Missing: &spec.MetadataValue{Namespace: "app", Key: "tenant", Value: "none"}, Remove: true},
		{Header: "x-flag", Present: &spec.MetadataValue{Namespace: "app", Key: "flag", Value: "on"}},
	}}
	f, err := headerToMetadataBuilder{}.Build(cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	xfcc := `By=spiffe://td.consul/ns/default/dc/dc1/svc/api;Hash=ab;URI=spiffe://11111111-2222.consul/ns/default/dc/dc1/svc/web`
	tests := []struct {
		name        string
		headers     []route.Header
		want        []Metadatum
		wantHeaders int
	}{
		{"consul xfcc and a removed header", []route.Header{
			{Name: []byte("X-Forwarded-Client-Cert"), Value: []byte(xfcc)}, {Name: []byte("X-Tenant"), Value: []byte("acme")}},
			[]Metadatum{{"consul", "trust-domain", "11111111-2222.consul"}, {"consul", "namespace", "default"},
				{"consul", "datacenter", "dc1"}, {"consul", "service", "web"}, {"app", "tenant", "acme"}}, 1},
		{"missing and constant", []route.Header{{Name: []byte("x-flag"), Value: []byte("1")}},
			[]Metadatum{{"app", "tenant", "none"}, {"app", "flag", "on"}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Stream{}
			s.Reset(&route.Request{Method: []byte("GET"), Path: []byte("/"), Headers: tc.headers}, nil)
			if st := f.RequestHeaders(s); st != Continue {
				t.Fatalf("status %v, want Continue", st)
			}
			if diff := cmp.Diff(tc.want, s.Metadata); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if len(s.Request.Headers) != tc.wantHeaders {
				t.Errorf("%d headers left, want %d", len(s.Request.Headers), tc.wantHeaders)
			}
		})
	}
}

// A request without the rules' headers costs no allocation.
func BenchmarkHeaderToMetadataAbsent(b *testing.B) {
	f, _ := headerToMetadataBuilder{}.Build(&spec.HeaderToMetadata{Rules: []spec.HeaderToMetadataRule{
		consulXFCCRule("service", "5")}}, Env{})
	req := &route.Request{Method: []byte("GET"), Path: []byte("/"), Headers: []route.Header{{Name: []byte("a"), Value: []byte("b")}}}
	s := &Stream{}
	b.ReportAllocs()
	for b.Loop() {
		s.Reset(req, nil)
		f.RequestHeaders(s)
	}
}
