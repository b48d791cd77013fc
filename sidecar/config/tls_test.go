package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

const spiffeWeb = "spiffe://mesh.local/ns/default/dc/dc1/svc/web"

func inline(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(b)}}
}

func socket(t *testing.T, m proto.Message) *corev3.TransportSocket {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
}

// tlsFixture is a CA, a leaf of it with its key in a file, and a
// DownstreamTlsContext using them that a test edits.
type tlsFixture struct {
	ca      *transporttest.CA
	leaf    transporttest.Pair
	keyFile string
}

func newTLSFixture(t *testing.T) *tlsFixture {
	ca := transporttest.NewCA(t, "mesh")
	leaf := ca.Leaf(t, spiffeWeb)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, leaf.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tlsFixture{ca: ca, leaf: leaf, keyFile: keyFile}
}

func (f *tlsFixture) common() *tlsv3.CommonTlsContext {
	return &tlsv3.CommonTlsContext{
		TlsCertificates: []*tlsv3.TlsCertificate{{
			CertificateChain: inline(f.leaf.Cert),
			PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: f.keyFile}},
		}},
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: f.ca.PEM}},
			MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{
				{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: spiffeWeb}}},
				{SanType: tlsv3.SubjectAltNameMatcher_DNS, Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: ".mesh.local"}}},
			},
		}},
		AlpnProtocols: []string{"http/1.1"},
	}
}

func (f *tlsFixture) validation() *spec.Validation {
	return &spec.Validation{TrustedCA: f.ca.PEM, SubjectAltNames: []spec.SANMatch{
		{Type: spec.SANURI, Match: spec.StringMatch{Kind: spec.MatchExact, Value: spiffeWeb}},
		{Type: spec.SANDNS, Match: spec.StringMatch{Kind: spec.MatchSuffix, Value: ".mesh.local"}},
	}}
}

func TestDecodeDownstreamTLS(t *testing.T) {
	f := newTLSFixture(t)
	l := fromYAML(t, httpListener+"      rds: {route_config_name: main, config_source: {ads: {}}}\n", &listenerv3.Listener{})
	common := f.common()
	common.TlsParams = &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2,
		CipherSuites: []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"}}
	l.FilterChains[0].TransportSocket = socket(t, &tlsv3.DownstreamTlsContext{CommonTlsContext: common,
		RequireClientCertificate: wrapperspb.Bool(true)})
	l.FilterChains[0].TransportSocketConnectTimeout = durationpb.New(3 * time.Second)
	got, err := DecodeListener(l)
	if err != nil {
		t.Fatal(err)
	}
	want := &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: []spec.Certificate{{Chain: f.leaf.Cert, Key: f.leaf.Key}},
		Validation:   f.validation(),
		ALPN:         []string{"http/1.1"},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS13,
		CipherSuites: []uint16{0xc02b, 0xcca8},
	}, RequireClientCert: true, HandshakeTimeout: 3 * time.Second}
	if diff := cmp.Diff(want, got.FilterChains[0].TLS); diff != "" {
		t.Errorf("TLS (-want +got):\n%s", diff)
	}
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}
}

func TestDecodeSDSReferences(t *testing.T) {
	l := fromYAML(t, httpListener+"      rds: {route_config_name: main, config_source: {ads: {}}}\n", &listenerv3.Listener{})
	l.FilterChains[0].TransportSocket = socket(t, &tlsv3.DownstreamTlsContext{
		RequireClientCertificate: wrapperspb.Bool(true),
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: "web", SdsConfig: adsSource()}},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "roots", SdsConfig: adsSource()}},
		}})
	got, err := DecodeListener(l)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"web", "roots"}, got.SecretNames()); diff != "" {
		t.Errorf("SecretNames (-want +got):\n%s", diff)
	}
	f := newTLSFixture(t)
	secrets := map[string]*spec.Secret{
		"web":   {Name: "web", Certificate: &spec.Certificate{Chain: f.leaf.Cert, Key: f.leaf.Key}},
		"roots": {Name: "roots", Validation: f.validation()},
	}
	r := got.WithSecrets(func(name string) *spec.Secret { return secrets[name] })
	tls := r.FilterChains[0].TLS
	if diff := cmp.Diff([]spec.Certificate{*secrets["web"].Certificate}, tls.Certificates); diff != "" {
		t.Errorf("Certificates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.validation(), tls.Validation); diff != "" {
		t.Errorf("Validation (-want +got):\n%s", diff)
	}
	if got.FilterChains[0].TLS.Certificates != nil {
		t.Error("WithSecrets modified the listener it was called on")
	}
}

func TestDecodeUpstreamTLS(t *testing.T) {
	f := newTLSFixture(t)
	c := fromYAML(t, "{name: api, type: STATIC, connect_timeout: 1s}", &clusterv3.Cluster{})
	c.TransportSocket = socket(t, &tlsv3.UpstreamTlsContext{Sni: "api.mesh.local", CommonTlsContext: f.common()})
	got, err := DecodeCluster(c)
	if err != nil {
		t.Fatal(err)
	}
	want := &spec.UpstreamTLS{SNI: "api.mesh.local", TLSCommon: spec.TLSCommon{
		Certificates: []spec.Certificate{{Chain: f.leaf.Cert, Key: f.leaf.Key}},
		Validation:   f.validation(),
		ALPN:         []string{"http/1.1"},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS12, // Envoy's client default
	}}
	if diff := cmp.Diff(want, got.TLS); diff != "" {
		t.Errorf("TLS (-want +got):\n%s", diff)
	}
}

func TestDecodeTLSErrors(t *testing.T) {
	f := newTLSFixture(t)
	const ts = `filter_chains[0].transport_socket.typed_config.`
	downstream := func(edit func(*tlsv3.DownstreamTlsContext)) func(*listenerv3.FilterChain) {
		return func(fc *listenerv3.FilterChain) {
			d := &tlsv3.DownstreamTlsContext{CommonTlsContext: f.common()}
			edit(d)
			fc.TransportSocket = socket(t, d)
		}
	}
	tests := []struct {
		name  string
		http  bool // an http_connection_manager chain, else tcp_proxy
		http1 bool // of codec_type HTTP1
		edit  func(*listenerv3.FilterChain)
		want  string
	}{{
		name: "TLS 1.1",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.TlsParams = &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_1}
		}),
		want: ts + `common_tls_context.tls_params.tls_minimum_protocol_version: TLSv1_1 is not supported: TLS 1.2 and 1.3 only`,
	}, {
		name: "legacy cipher suite",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.TlsParams = &tlsv3.TlsParameters{CipherSuites: []string{"AES128-SHA"}}
		}),
		want: ts + `common_tls_context.tls_params.cipher_suites[0]: "AES128-SHA" is not supported`,
	}, {
		name: "h2 on an HTTP1 chain",
		http: true, http1: true,
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) { d.CommonTlsContext.AlpnProtocols = []string{"h2", "http/1.1"} }),
		want: ts + `common_tls_context.alpn_protocols[0]: "h2" is not supported: the http_connection_manager's codec_type is HTTP1`,
	}, {
		name: "client certificate required without a validation context",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.ValidationContextType = nil
			d.RequireClientCertificate = wrapperspb.Bool(true)
		}),
		want: ts + `require_client_certificate: needs common_tls_context.validation_context`,
	}, {
		name: "no certificate",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) { d.CommonTlsContext.TlsCertificates = nil }),
		want: ts + `common_tls_context.tls_certificates: a terminating chain needs a certificate`,
	}, {
		name: "unsupported field",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) { d.RequireSni = wrapperspb.Bool(true) }),
		want: ts + `require_sni: not supported`,
	}, {
		name: "email SAN",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.GetValidationContext().MatchTypedSubjectAltNames[0].SanType = tlsv3.SubjectAltNameMatcher_EMAIL
		}),
		want: ts + `common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type: EMAIL is not supported`,
	}, {
		name: "missing key file",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.TlsCertificates[0].PrivateKey = &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: "/nonexistent/key.pem"}}
		}),
		want: ts + `common_tls_context.tls_certificates[0].private_key.filename: open /nonexistent/key.pem`,
	}, {
		name: "SDS certificate without sds_config",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{{Name: "web"}}
		}),
		want: ts + `common_tls_context.tls_certificate_sds_secret_configs[0].sds_config: required`,
	}, {
		name: "SDS certificate over a path",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{{Name: "web",
				SdsConfig: &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_PathConfigSource{
					PathConfigSource: &corev3.PathConfigSource{Path: "/etc/sds.yaml"}}}}}
		}),
		want: ts + `common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.path_config_source: not supported`,
	}, {
		name: "SDS validation without a name",
		edit: downstream(func(d *tlsv3.DownstreamTlsContext) {
			d.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{SdsConfig: adsSource()}}
		}),
		want: ts + `common_tls_context.validation_context_sds_secret_config.name: value length must be at least 1`,
	}, {
		name: "upstream context on a listener",
		edit: func(fc *listenerv3.FilterChain) { fc.TransportSocket = socket(t, &tlsv3.UpstreamTlsContext{}) },
		want: `filter_chains[0].transport_socket.typed_config: unsupported transport socket "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tcpListener + "      cluster: be\n"
			if tt.http {
				src = httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n"
			}
			if tt.http1 {
				src += "      codec_type: HTTP1\n"
			}
			l := fromYAML(t, src, &listenerv3.Listener{})
			tt.edit(l.FilterChains[0])
			_, err := DecodeListener(l)
			wantError(t, err, `listener "web": `+tt.want)
		})
	}
}

func TestDecodeUpstreamTLSErrors(t *testing.T) {
	f := newTLSFixture(t)
	tests := []struct {
		name string
		edit func(*tlsv3.UpstreamTlsContext)
		want string
	}{{
		name: "h2",
		edit: func(u *tlsv3.UpstreamTlsContext) { u.CommonTlsContext.AlpnProtocols = []string{"h2"} },
		want: `transport_socket.typed_config.common_tls_context.alpn_protocols[0]: "h2" is not supported`,
	}, {
		name: "TLS 1.0 maximum",
		edit: func(u *tlsv3.UpstreamTlsContext) {
			u.CommonTlsContext.TlsParams = &tlsv3.TlsParameters{TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_0}
		},
		want: `transport_socket.typed_config.common_tls_context.tls_params.tls_maximum_protocol_version: TLSv1_0 is not supported`,
	}, {
		name: "SAN matcher without a trusted CA",
		edit: func(u *tlsv3.UpstreamTlsContext) { u.CommonTlsContext.GetValidationContext().TrustedCa = nil },
		want: `transport_socket.typed_config.common_tls_context.validation_context.trusted_ca: required`,
	}, {
		name: "renegotiation",
		edit: func(u *tlsv3.UpstreamTlsContext) { u.AllowRenegotiation = true },
		want: `transport_socket.typed_config.allow_renegotiation: not supported`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fromYAML(t, "{name: api, type: STATIC}", &clusterv3.Cluster{})
			u := &tlsv3.UpstreamTlsContext{CommonTlsContext: f.common()}
			tt.edit(u)
			c.TransportSocket = socket(t, u)
			_, err := DecodeCluster(c)
			wantError(t, err, `cluster "api": `+tt.want)
		})
	}
}

// TestDecodeDownstreamALPNH2 shows that a chain whose connection manager
// may speak HTTP/2 (codec_type AUTO or HTTP2) may offer "h2" by ALPN.
func TestDecodeDownstreamALPNH2(t *testing.T) {
	f := newTLSFixture(t)
	for _, codec := range []string{"AUTO", "HTTP2"} {
		t.Run(codec, func(t *testing.T) {
			src := httpListener + "      rds: {route_config_name: main, config_source: {ads: {}}}\n      codec_type: " + codec + "\n"
			l := fromYAML(t, src, &listenerv3.Listener{})
			common := f.common()
			common.AlpnProtocols = []string{"h2", "http/1.1"}
			l.FilterChains[0].TransportSocket = socket(t, &tlsv3.DownstreamTlsContext{CommonTlsContext: common})
			got, err := DecodeListener(l)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"h2", "http/1.1"}, got.FilterChains[0].TLS.ALPN); diff != "" {
				t.Errorf("ALPN (-want +got):\n%s", diff)
			}
		})
	}
}
