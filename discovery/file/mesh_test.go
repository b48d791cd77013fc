package file

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/ca"
)

const meshYAML = `mesh:
  trust_domain: example.mesh
  default_policy: deny
  state_dir: state
services:
  - name: api
    protocol: http
    endpoints: [{address: 127.0.0.1, port: 21001}]
    sidecar: {inbound_port: 21001, local_port: 8081}
  - name: web
    endpoints: [{address: 127.0.0.1, port: 21002}]
    sidecar:
      inbound_port: 21002
      local_port: 8082
      upstreams: [{service: api, bind_port: 9001}]
  - name: legacy
    endpoints: [{address: 127.0.0.1, port: 7000}]
intentions:
  - {source: web, destination: api, action: allow}
  - source: "*"
    destination: api
    permissions:
      - {action: deny, path_prefix: /admin, methods: [POST]}
      - action: allow
        path_regex: "/v[0-9]+/.*"
        headers: [{name: x-team, exact: core}, {name: x-debug, present: true, invert: true}]
`

// TestParseMesh checks the mesh section and intentions, and that only
// services with a public listener are reached over mTLS.
func TestParseMesh(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse(filepath.Join(dir, "services.yaml"), []byte(meshYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := discovery.Mesh{TrustDomain: "example.mesh", Namespace: "default", Datacenter: "dc1",
		CA: &discovery.CAFiles{StateDir: filepath.Join(dir, "state")},
		Intentions: []discovery.Intention{
			{Source: "web", Destination: "api", Action: discovery.ActionAllow},
			{Source: "*", Destination: "api", Permissions: []discovery.Permission{
				{Action: discovery.ActionDeny, PathPrefix: "/admin", Methods: []string{"POST"}},
				{Action: discovery.ActionAllow, PathRegex: "/v[0-9]+/.*", Headers: []discovery.HeaderMatch{
					{Name: "x-team", Exact: "core"}, {Name: "x-debug", Present: true, Invert: true}}},
			}},
		}}
	if diff := cmp.Diff(&want, c.Mesh()); diff != "" {
		t.Errorf("mesh (-want +got):\n%s", diff)
	}
	identities := map[string]string{}
	for _, s := range c.Services() {
		identities[s.Name] = s.Identity
	}
	if diff := cmp.Diff(map[string]string{"api": "api", "web": "web", "legacy": ""}, identities); diff != "" {
		t.Errorf("identities (-want +got):\n%s", diff)
	}
}

func TestParseMeshErrors(t *testing.T) {
	svc := "services:\n  - name: a\n"
	tests := []struct{ name, yaml, want string }{
		{"intentions without mesh", svc + "intentions:\n  - {source: a, destination: b, action: allow}\n",
			"services.yaml:3: intentions: intentions need a mesh section: they are enforced on mTLS identities"},
		{"ca_cert alone", "mesh:\n  ca_cert: ca.pem\n" + svc, "services.yaml:2: mesh: ca_cert and ca_key go together"},
		{"action and permissions", "mesh: {}\n" + svc +
			"intentions:\n  - {source: a, destination: b, action: allow, permissions: [{action: deny}]}\n",
			"services.yaml:5: intentions[0]: action and permissions exclude each other"},
		{"bad action", "mesh: {}\n" + svc + "intentions:\n  - {source: a, destination: b, action: maybe}\n",
			`services.yaml:5: intentions[0].action: "maybe" is not one of allow, deny`},
		{"two paths", "mesh: {}\n" + svc +
			"intentions:\n  - {source: a, destination: b, permissions: [{action: deny, path_exact: /a, path_prefix: /b}]}\n",
			"services.yaml:5: intentions[0].permissions[0]: at most one of path_exact, path_prefix and path_regex"},
		{"unknown mesh key", "mesh: {ca: x}\n" + svc,
			"services.yaml:1: mesh.ca: unknown field, expected one of " +
				"trust_domain, datacenter, default_policy, ca_cert, ca_key, state_dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("services.yaml", []byte(tt.yaml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse() error\ngot  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestSourceIssuesLeaves runs a Source on a mesh file: the catalog comes
// with the roots and a leaf per sidecar that chains to them and carries
// the service's SPIFFE ID; the CA is kept in state_dir, and a second run
// loads the same CA.
func TestSourceIssuesLeaves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(path, []byte(meshYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	first := nextCatalog(t, run(t, New(path, nil)))
	sec := first.Secrets()
	if sec == nil {
		t.Fatal("catalog published without secrets")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sec.Roots) {
		t.Fatal("no roots")
	}
	for _, name := range []string{"api", "web"} {
		leaf, ok := sec.Leaf(name)
		if !ok {
			t.Fatalf("no leaf for %s", name)
		}
		b, _ := pem.Decode(leaf.CertPEM)
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("leaf %s: %v", name, err)
		}
		if want := "spiffe://example.mesh/ns/default/dc/dc1/svc/" + name; len(cert.URIs) != 1 || cert.URIs[0].String() != want {
			t.Errorf("leaf %s URIs = %v, want %s", name, cert.URIs, want)
		}
	}
	if _, ok := sec.Leaf("legacy"); ok {
		t.Error("leaf for legacy, which has no sidecar")
	}
	if _, err := os.Stat(filepath.Join(dir, "state", ca.KeyFile)); err != nil {
		t.Errorf("CA not kept in state_dir: %v", err)
	}
	second := nextCatalog(t, run(t, New(path, nil)))
	if string(second.Secrets().Roots) != string(sec.Roots) {
		t.Error("a second run made a new CA instead of loading state_dir's")
	}
}

func nextCatalog(t *testing.T, pubs <-chan *discovery.Catalog) *discovery.Catalog {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	select {
	case c := <-pubs:
		return c
	case <-ctx.Done():
		t.Fatal("no catalog published")
		return nil
	}
}
