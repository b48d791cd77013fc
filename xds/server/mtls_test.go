package server

import (
	"slices"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// meshCatalog is a two-sidecar mTLS mesh: web calls api; api's endpoint
// is its sidecar's public listener. secrets, if not nil, are attached.
func meshCatalog(t testing.TB, secrets *discovery.Secrets) *discovery.Catalog {
	t.Helper()
	cat, err := discovery.NewMesh([]discovery.Service{
		{Name: "api", Protocol: discovery.ProtocolHTTP, Identity: "api",
			Endpoints: []discovery.Endpoint{{Address: "127.0.0.1", Port: 21001}},
			Sidecar:   &discovery.Sidecar{InboundPort: 21001, LocalPort: 8081}},
		{Name: "web", Protocol: discovery.ProtocolTCP, Identity: "web",
			Endpoints: []discovery.Endpoint{{Address: "127.0.0.1", Port: 21002}},
			Sidecar: &discovery.Sidecar{InboundPort: 21002, LocalPort: 8082,
				Upstreams: []discovery.Upstream{{Service: "api", BindPort: 9001}}}},
	}, discovery.Mesh{TrustDomain: "example.consul", DefaultAllow: true})
	if err != nil {
		t.Fatal(err)
	}
	if secrets != nil {
		cat = cat.WithSecrets(secrets)
	}
	return cat
}

func testSecrets(t testing.TB, ca *transporttest.CA, names ...string) *discovery.Secrets {
	leaves := map[string]discovery.Leaf{}
	for _, n := range names {
		p := ca.Leaf(t, "spiffe://example.consul/ns/default/dc/dc1/svc/"+n)
		leaves[n] = discovery.Leaf{CertPEM: p.Cert, KeyPEM: p.Key}
	}
	return discovery.NewSecrets(ca.PEM, leaves)
}

// TestMeshTLS checks the generated mTLS as the sidecar decodes it: the
// public listener requires a client certificate and takes its leaf and
// roots from SDS; the cluster to api sends api's SNI, presents the leaf
// and checks api's SPIFFE ID; the secrets carry them.
func TestMeshTLS(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	snap, err := Translate(meshCatalog(t, testSecrets(t, ca, "web", "api")), "web")
	if err != nil {
		t.Fatal(err)
	}
	lis := snap.GetResources(resource.ListenerType)[InboundListener].(*listener.Listener)
	l, err := config.DecodeListener(lis)
	if err != nil {
		t.Fatalf("decoding inbound listener: %v", err)
	}
	got := l.FilterChains[0].TLS
	want := &spec.DownstreamTLS{RequireClientCert: true}
	if got == nil || got.RequireClientCert != want.RequireClientCert ||
		!cmp.Equal(got.CertificateSDS, []string{LeafSecret}) || got.ValidationSDS != RootsSecret {
		t.Errorf("inbound TLS = %+v, want client certificates required, SDS %q and %q", got, LeafSecret, RootsSecret)
	}
	cl, err := config.DecodeCluster(snap.GetResources(resource.ClusterType)["api"].(*cluster.Cluster))
	if err != nil {
		t.Fatalf("decoding cluster api: %v", err)
	}
	up := cl.TLS
	if up == nil || up.SNI != "api.default.dc1.internal.example.consul" ||
		!cmp.Equal(up.CertificateSDS, []string{LeafSecret}) || up.ValidationSDS != ValidationSecret("api") {
		t.Errorf("cluster api TLS = %+v", up)
	}
	if local := snap.GetResources(resource.ClusterType)[LocalAppCluster].(*cluster.Cluster); local.TransportSocket != nil {
		t.Errorf("local_app has a transport socket; the app is plaintext on loopback")
	}
	secrets := map[string]*spec.Secret{}
	for name, r := range snap.GetResources(resource.SecretType) {
		s, err := config.DecodeSecret(r.(*tlsv3.Secret))
		if err != nil {
			t.Fatalf("decoding secret %q: %v", name, err)
		}
		secrets[name] = s
	}
	if names := keys(secrets); !cmp.Equal(names, []string{"leaf", "roots", "validation:api"}) {
		t.Fatalf("secrets = %v", names)
	}
	if s := secrets[ValidationSecret("api")].Validation.SubjectAltNames; len(s) != 1 ||
		s[0].Match != (spec.StringMatch{Kind: spec.MatchExact, Value: "spiffe://example.consul/ns/default/dc/dc1/svc/api"}) || s[0].Type != spec.SANURI {
		t.Errorf("validation:api SANs = %+v", s)
	}
	if len(secrets[RootsSecret].Validation.SubjectAltNames) != 0 {
		t.Errorf("roots restrict SANs: any mesh identity passes the handshake, RBAC decides")
	}
}

// TestMeshSecretsOutsideCatalogVersion shows that secrets are not part of
// the catalog's version, and that a rotated leaf changes only the node's
// SDS version.
func TestMeshSecretsOutsideCatalogVersion(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	a, b := meshCatalog(t, testSecrets(t, ca, "web", "api")), meshCatalog(t, testSecrets(t, ca, "web", "api"))
	if a.Version() != b.Version() || a.Version() != meshCatalog(t, nil).Version() {
		t.Fatalf("catalog versions differ with secrets: %s %s", a.Version(), b.Version())
	}
	sa, err := Translate(a, "web")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Translate(b, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{resource.ClusterType, resource.ListenerType, resource.EndpointType} {
		if sa.GetVersion(url) != sb.GetVersion(url) {
			t.Errorf("%s version changed with a new leaf", url)
		}
	}
	if sa.GetVersion(resource.SecretType) == sb.GetVersion(resource.SecretType) {
		t.Errorf("secret version did not change with a new leaf")
	}
}

// TestMeshWithoutSecrets shows a mesh node whose secrets are not there
// yet still gets its listeners and clusters (the sidecar warms them).
func TestMeshWithoutSecrets(t *testing.T) {
	snap, err := Translate(meshCatalog(t, nil), "web")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(snap.GetResources(resource.SecretType)); n != 0 {
		t.Errorf("%d secrets without any from the source", n)
	}
	if err := snap.Consistent(); err != nil {
		t.Error(err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMeshSecretsOnlyReferenced shows a node gets only the secrets its
// resources name: go-control-plane's ADS mode answers a secret request
// only if it lists every secret of the snapshot.
func TestMeshSecretsOnlyReferenced(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	cat, err := discovery.NewMesh([]discovery.Service{
		{Name: "api", Identity: "api", Endpoints: []discovery.Endpoint{{Address: "127.0.0.1", Port: 21001}},
			Sidecar: &discovery.Sidecar{InboundPort: 21001, LocalPort: 8081}},
		{Name: "plain", Endpoints: []discovery.Endpoint{{Address: "127.0.0.1", Port: 7000}}},
		{Name: "client", Sidecar: &discovery.Sidecar{Upstreams: []discovery.Upstream{{Service: "api", BindPort: 9001}}}},
		{Name: "legacy", Sidecar: &discovery.Sidecar{Upstreams: []discovery.Upstream{{Service: "plain", BindPort: 9002}}}},
	}, discovery.Mesh{TrustDomain: "example.consul"})
	if err != nil {
		t.Fatal(err)
	}
	cat = cat.WithSecrets(testSecrets(t, ca, "api", "client", "legacy"))
	for node, want := range map[string][]string{
		"api": {"leaf", "roots"}, "client": {"leaf", "validation:api"}, "legacy": nil,
	} {
		snap, err := Translate(cat, node)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(snap.GetResources(resource.SecretType)); !cmp.Equal(got, want) {
			t.Errorf("node %s secrets = %v, want %v", node, got, want)
		}
	}
}

// TestInboundXFCC: an HTTP public listener with mTLS appends the
// caller's certificate details to x-forwarded-client-cert as Consul's
// does, so the app sees the caller's SPIFFE ID; a plaintext mesh's
// listener, and any TCP one, has no connection manager setting it.
func TestInboundXFCC(t *testing.T) {
	all := spec.XFCCSubject | spec.XFCCCert | spec.XFCCChain | spec.XFCCDNS | spec.XFCCURI
	plain, err := discovery.New(meshCatalog(t, nil).Services())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cat  *discovery.Catalog
		want spec.XFCC
	}{
		{"mtls", meshCatalog(t, nil), spec.XFCC{Mode: spec.XFCCAppendForward, Details: all}},
		{"plaintext", plain, spec.XFCC{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := Translate(tc.cat, "api")
			if err != nil {
				t.Fatal(err)
			}
			l, err := config.DecodeListener(snap.GetResources(resource.ListenerType)[InboundListener].(*listener.Listener))
			if err != nil {
				t.Fatalf("decoding inbound listener: %v", err)
			}
			h := l.FilterChains[0].HTTP
			if h == nil {
				t.Fatal("api's inbound listener has no HTTP connection manager")
			}
			if diff := cmp.Diff(tc.want, h.XFCC); diff != "" {
				t.Errorf("XFCC (-want +got):\n%s", diff)
			}
		})
	}
}
