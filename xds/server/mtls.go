package server

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/discovery"
)

// SDS secret names. A node's own certificate is always [LeafSecret], so
// the clusters that present it are the same resource on every node and
// are shared; the roots are [RootsSecret]; each mesh cluster verifies its
// upstream with the validation context [ValidationSecret] of its name,
// which carries the roots and the upstream's SPIFFE ID.
const (
	LeafSecret  = "leaf"
	RootsSecret = "roots"
)

// ValidationSecret returns the name of the validation context that checks
// the certificate of cluster's endpoints: "validation:<cluster>".
func ValidationSecret(cluster string) string { return "validation:" + cluster }

// sdsConfig names an SDS secret fetched over ADS.
func sdsConfig(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsConfigSource()}
}

// transportSocket wraps a TLS context as an envoy.transport_sockets.tls
// transport socket.
func transportSocket(ctx proto.Message) (*core.TransportSocket, error) {
	a, err := marshalAny(ctx)
	if err != nil {
		return nil, err
	}
	return &core.TransportSocket{Name: wellknown.TransportSocketTLS,
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: a}}, nil
}

// downstreamMTLS is the public listener's TLS: the node's leaf, and a
// client certificate required that chains to the roots. Authorization by
// identity is RBAC's job, so any mesh identity passes the handshake.
func downstreamMTLS() (*core.TransportSocket, error) {
	return transportSocket(&tlsv3.DownstreamTlsContext{
		RequireClientCertificate: wrapperspb.Bool(true),
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsConfig(LeafSecret)},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
				ValidationContextSdsSecretConfig: sdsConfig(RootsSecret),
			},
		},
	})
}

// upstreamMTLS is the TLS of a cluster whose endpoints are mesh sidecars:
// the node's leaf as client certificate, the upstream's SNI, and its
// validation context, which checks the upstream's SPIFFE ID.
func upstreamMTLS(mesh *discovery.Mesh, svc *discovery.Service) (*core.TransportSocket, error) {
	return transportSocket(&tlsv3.UpstreamTlsContext{
		Sni: mesh.SNI(svc.Identity, svc.Datacenter),
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsConfig(LeafSecret)},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
				ValidationContextSdsSecretConfig: sdsConfig(ValidationSecret(svc.Name)),
			},
		},
	})
}

// leafSecret returns the node's certificate as [LeafSecret].
func leafSecret(l discovery.Leaf) *tlsv3.Secret {
	return &tlsv3.Secret{Name: LeafSecret, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: l.CertPEM}},
		PrivateKey:       &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: l.KeyPEM}},
	}}}
}

// validationSecret returns a validation context named name over roots;
// spiffeID, if not empty, is the one URI SAN accepted.
func validationSecret(name string, roots []byte, spiffeID string) *tlsv3.Secret {
	vc := &tlsv3.CertificateValidationContext{
		TrustedCa: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: roots}},
	}
	if spiffeID != "" {
		vc.MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{{
			SanType: tlsv3.SubjectAltNameMatcher_URI,
			Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: spiffeID}},
		}}
	}
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: vc}}
}

// addSecrets adds the SDS secrets the node's resources name, and no
// others: in ADS mode go-control-plane answers a secret request only when
// it lists every secret of the snapshot. They are its leaf (when it has
// an mTLS public listener or mesh clusters), the roots (with a public
// listener) and the validation context of each mesh cluster, when the
// catalog has them (a sidecar waits for missing ones, as Envoy warms).
// Secrets are built per node and never cached across catalogs, so rotated
// keys do not linger.
func (r *resources) addSecrets(identity string, inbound bool) error {
	sec := r.cat.Secrets()
	if sec == nil || len(sec.Roots) == 0 || (!inbound && len(r.meshClusters) == 0) {
		return nil
	}
	if l, ok := sec.Leaf(identity); ok {
		if err := r.addFresh(sdsType, leafSecret(l)); err != nil {
			return err
		}
	}
	if inbound {
		if err := r.addFresh(sdsType, validationSecret(RootsSecret, sec.Roots, "")); err != nil {
			return err
		}
	}
	mesh := r.cat.Mesh()
	for _, name := range r.meshClusters {
		svc, _ := r.cat.Service(name)
		id := mesh.SPIFFEID(svc.Identity, svc.Datacenter)
		if err := r.addFresh(sdsType, validationSecret(ValidationSecret(name), sec.Roots, id)); err != nil {
			return err
		}
	}
	return nil
}

// addFresh validates and adds res without the shared fragment cache.
func (r *resources) addFresh(typ int, res types.Resource) error {
	f, err := newFragment(res)
	if err != nil {
		return err
	}
	r.byType[typ] = append(r.byType[typ], f)
	return nil
}
