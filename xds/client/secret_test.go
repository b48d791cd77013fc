package client

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// sdsListener is a tcp_proxy listener to cluster that terminates TLS with
// the certificate of the SDS secret named secret and, if roots is not
// empty, verifies client certificates with the secret of that name.
func sdsListener(name string, port uint32, cluster, secret, roots string) *listenerv3.Listener {
	l := tcpListener(name, port, cluster)
	ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: secret, SdsConfig: ads()}},
	}}
	if roots != "" {
		ctx.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: roots, SdsConfig: ads()}}
	}
	l.FilterChains[0].TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
	return l
}

func certSecret(name string, p transporttest.Pair) *tlsv3.Secret {
	ds := func(b []byte) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
	}
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: ds(p.Cert), PrivateKey: ds(p.Key)}}}
}

func rootsSecret(ca *transporttest.CA) *tlsv3.Secret {
	return &tlsv3.Secret{Name: "roots", Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
		TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: ca.PEM}}}}}
}

// withSecrets adds a listener and secrets to the base resources.
func withSecrets(l *listenerv3.Listener, secrets ...*tlsv3.Secret) map[string][]types.Resource {
	res := with([]*listenerv3.Listener{l}, nil, "10.0.0.1:80")
	for _, s := range secrets {
		res[resourcev3.SecretType] = append(res[resourcev3.SecretType], s)
	}
	return res
}

// certOf returns the certificate chain the applied listener name serves,
// or nil if it is not applied.
func certOf(s *config.Set, name string) []byte {
	for _, l := range s.Listeners {
		if l.Name == name && l.FilterChains[0].TLS != nil && len(l.FilterChains[0].TLS.Certificates) > 0 {
			return l.FilterChains[0].TLS.Certificates[0].Chain
		}
	}
	return nil
}

// TestSecretWarming checks SDS over ADS: a listener naming a secret the
// client does not have waits for it (subscribing to it), is applied with
// the secret's certificate once it arrives, takes a new version of the
// secret, and keeps the previous one when a new version is NACKed, naming
// the field.
func TestSecretWarming(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	v1, v2 := ca.Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/web"), ca.Leaf(t, "spiffe://mesh.local/ns/default/dc/dc1/svc/web")
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			l := sdsListener("tls", 10002, "backend", "web", "roots")
			srv.set(t, "v2", withSecrets(l))
			srv.waitACK(ctx, t, resourcev3.ListenerType, "v2")
			waitSubscribed(ctx, t, srv, resourcev3.SecretType, "roots", "web")
			if got := a.last().Listeners; slices.Contains(got, "tls>backend") {
				t.Errorf("listener applied before its secret arrived: %v", got)
			}

			srv.set(t, "v3", withSecrets(l, certSecret("web", v1)))
			srv.waitACK(ctx, t, resourcev3.SecretType, "v3")
			if got := a.last().Listeners; slices.Contains(got, "tls>backend") {
				t.Errorf("listener applied before its validation secret arrived: %v", got)
			}
			srv.set(t, "v3b", withSecrets(l, certSecret("web", v1), rootsSecret(ca)))
			set := waitCert(ctx, t, a, v1.Cert)
			for _, ls := range set.Listeners {
				if ls.Name == "tls" && (ls.FilterChains[0].TLS.Validation == nil || !bytes.Equal(ls.FilterChains[0].TLS.Validation.TrustedCA, ca.PEM)) {
					t.Errorf("listener applied without the roots secret's CA: %+v", ls.FilterChains[0].TLS.Validation)
				}
			}

			srv.set(t, "v4", withSecrets(l, certSecret("web", v2), rootsSecret(ca)))
			waitCert(ctx, t, a, v2.Cert)

			bad := certSecret("web", v1)
			bad.GetTlsCertificate().Password = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "x"}}
			srv.set(t, "v5", withSecrets(l, bad, rootsSecret(ca)))
			want := `secret "web": tls_certificate.password: not supported`
			if _, err := srv.reqs.wait(ctx, func(r request) bool {
				return r.typeURL == resourcev3.SecretType && strings.Contains(r.errDetail, want)
			}); err != nil {
				t.Fatalf("no NACK naming %q: %v; NACKs: %q", want, err, nacks(srv, resourcev3.SecretType))
			}
			if got := certOf(a.sets.all()[len(a.sets.all())-1], "tls"); !bytes.Equal(got, v2.Cert) {
				t.Error("a NACKed secret replaced the previous version")
			}
		})
	}
}

// waitCert waits for a Set whose listener "tls" serves the chain cert.
func waitCert(ctx context.Context, t *testing.T, a *fakeApplier, cert []byte) *config.Set {
	t.Helper()
	s, err := a.sets.wait(ctx, func(s *config.Set) bool { return bytes.Equal(certOf(s, "tls"), cert) })
	if err != nil {
		t.Fatalf("listener not applied with the secret's certificate: %v", err)
	}
	return s
}

// TestClusterSecretWarming checks that a cluster whose UpstreamTlsContext
// names an SDS client certificate warms until the secret arrives, then is
// applied with it.
func TestClusterSecretWarming(t *testing.T) {
	ca := transporttest.NewCA(t, "mesh")
	leaf := ca.Leaf(t, "spiffe://mesh.local/svc/web")
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			c := edsCluster("tlsc", "", clusterv3.Cluster_ROUND_ROBIN)
			c.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls",
				ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{
					CommonTlsContext: &tlsv3.CommonTlsContext{
						TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: "client", SdsConfig: ads()}}}})}}
			res := with(nil, []*clusterv3.Cluster{c}, "10.0.0.1:80")
			res[resourcev3.EndpointType] = append(res[resourcev3.EndpointType], loadAssignment("tlsc", "10.0.0.2:443"))
			srv.set(t, "v2", res)
			srv.waitACK(ctx, t, resourcev3.ClusterType, "v2")
			waitSubscribed(ctx, t, srv, resourcev3.SecretType, "client")
			srv.waitACK(ctx, t, resourcev3.EndpointType, "v2")
			if got := a.last().Clusters; slices.Contains(got, "tlsc/tlsc") {
				t.Errorf("cluster applied before its secret arrived: %v", got)
			}

			res[resourcev3.SecretType] = []types.Resource{certSecret("client", leaf)}
			srv.set(t, "v3", res)
			if _, err := a.sets.wait(ctx, func(s *config.Set) bool {
				for _, c := range s.Clusters {
					if c.Name == "tlsc" && c.TLS != nil && len(c.TLS.Certificates) == 1 && bytes.Equal(c.TLS.Certificates[0].Chain, leaf.Cert) {
						return true
					}
				}
				return false
			}); err != nil {
				t.Fatalf("cluster not applied with its secret's certificate: %v", err)
			}
		})
	}
}
