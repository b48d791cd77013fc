package config

import (
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	dynamicFields      = allow(&bootstrapv3.Bootstrap_DynamicResources{}, "lds_config", "cds_config", "ads_config")
	configSourceFields = allow(&corev3.ConfigSource{}, "ads", "initial_fetch_timeout", "resource_api_version")
	aggregatedFields   = allow(&corev3.AggregatedConfigSource{})
	adsConfigFields    = allow(&corev3.ApiConfigSource{},
		"api_type", "transport_api_version", "grpc_services", "set_node_on_first_message_only")
	grpcServiceFields = allow(&corev3.GrpcService{}, "envoy_grpc", "initial_metadata")
	metadataFields    = allow(&corev3.HeaderValue{}, "key", "value")
	envoyGRPCFields   = allow(&corev3.GrpcService_EnvoyGrpc{}, "cluster_name")

	httpOptionsFields  = allow(&httpv3.HttpProtocolOptions{}, "explicit_http_config")
	explicitHTTPFields = allow(&httpv3.HttpProtocolOptions_ExplicitHttpConfig{}, "http2_protocol_options")
	httpOptionsType    = typeURL(&httpv3.HttpProtocolOptions{})
)

// httpOptionsKey is the typed_extension_protocol_options key of
// HttpProtocolOptions.
const httpOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// adsClusterName is the cluster named by the bootstrap's ADS gRPC service,
// or "".
func adsClusterName(b *bootstrapv3.Bootstrap) string {
	svcs := b.GetDynamicResources().GetAdsConfig().GetGrpcServices()
	if len(svcs) == 0 {
		return ""
	}
	return svcs[0].GetEnvoyGrpc().GetClusterName()
}

// controlPlaneCluster returns c without the options that make Envoy speak
// HTTP/2 to the control servers (http2_protocol_options, or
// HttpProtocolOptions with explicit http2_protocol_options): the ADS client
// always speaks gRPC, so these are checked and dropped. Other protocol
// options are rejected. c is not modified.
func controlPlaneCluster(c *clusterv3.Cluster) (*clusterv3.Cluster, error) {
	for key, a := range c.GetTypedExtensionProtocolOptions() {
		path := fmt.Sprintf("typed_extension_protocol_options[%q]", key)
		if key != httpOptionsKey || a.GetTypeUrl() != httpOptionsType {
			return nil, errorf(path, "only %s is supported", httpOptionsKey)
		}
		if err := checkHTTP2Options(a); err != nil {
			return nil, within(path, err)
		}
	}
	c = proto.Clone(c).(*clusterv3.Cluster)
	c.Http2ProtocolOptions, c.TypedExtensionProtocolOptions = nil, nil
	return c, nil
}

// checkHTTP2Options requires an HttpProtocolOptions that selects HTTP/2.
func checkHTTP2Options(a *anypb.Any) error {
	o := &httpv3.HttpProtocolOptions{}
	if err := unpack(a, o); err != nil {
		return err
	}
	if err := httpOptionsFields.check(o); err != nil {
		return err
	}
	ex := o.GetExplicitHttpConfig()
	if err := explicitHTTPFields.check(ex); err != nil {
		return within("explicit_http_config", err)
	}
	if ex.GetHttp2ProtocolOptions() == nil {
		return errorf("explicit_http_config.http2_protocol_options", "required")
	}
	return nil
}

// decodeDynamic decodes dynamic_resources, which must use ADS; static is
// the decoded static_resources holding the ADS cluster.
func decodeDynamic(d *bootstrapv3.Bootstrap_DynamicResources, static *Set) (*ADS, error) {
	if err := dynamicFields.check(d); err != nil {
		return nil, err
	}
	if d == nil || proto.Size(d) == 0 {
		return nil, nil
	}
	lds, err := decodeADSSource(d.GetLdsConfig())
	if err != nil {
		return nil, within("lds_config", err)
	}
	cds, err := decodeADSSource(d.GetCdsConfig())
	if err != nil {
		return nil, within("cds_config", err)
	}
	if d.GetAdsConfig() == nil {
		return nil, errorf("ads_config", "required: lds_config and cds_config are only supported over ADS")
	}
	out, err := decodeADSConfig(d.GetAdsConfig(), static)
	if err != nil {
		return nil, within("ads_config", err)
	}
	out.LDS, out.CDS = lds, cds
	return out, nil
}

// decodeADSSource reports whether cs is set; when set it must be ads.
func decodeADSSource(cs *corev3.ConfigSource) (bool, error) {
	if cs == nil {
		return false, nil
	}
	if err := configSourceFields.check(cs); err != nil {
		return false, err
	}
	if v := cs.GetResourceApiVersion(); v == corev3.ApiVersion_V2 {
		return false, errorf("resource_api_version", "%s is not supported", v)
	}
	if cs.GetAds() == nil {
		return false, errorf("ads", "required: resources are only fetched over ADS")
	}
	if err := aggregatedFields.check(cs.GetAds()); err != nil {
		return false, within("ads", err)
	}
	return true, nil
}

// decodeADSConfig decodes ads_config: a GRPC or DELTA_GRPC API source with
// one Envoy gRPC service whose cluster is a static cluster of static.
func decodeADSConfig(ac *corev3.ApiConfigSource, static *Set) (*ADS, error) {
	if err := adsConfigFields.check(ac); err != nil {
		return nil, err
	}
	out := &ADS{}
	switch t := ac.GetApiType(); t {
	case corev3.ApiConfigSource_GRPC:
	case corev3.ApiConfigSource_DELTA_GRPC:
		out.Delta = true
	default:
		return nil, errorf("api_type", "%s is not supported", t)
	}
	if v := ac.GetTransportApiVersion(); v == corev3.ApiVersion_V2 {
		return nil, errorf("transport_api_version", "%s is not supported", v)
	}
	svcs := ac.GetGrpcServices()
	if len(svcs) != 1 {
		return nil, errorf("grpc_services", "exactly one gRPC service is supported, got %d", len(svcs))
	}
	if err := decodeGRPCService(svcs[0], out); err != nil {
		return nil, within(index("grpc_services", 0), err)
	}
	var err error
	if out.Targets, out.TLS, err = adsTargets(static, out.Cluster); err != nil {
		return nil, within(index("grpc_services", 0)+".envoy_grpc.cluster_name", err)
	}
	return out, nil
}

// decodeGRPCService sets out.Cluster and out.Metadata from an Envoy gRPC
// service.
func decodeGRPCService(g *corev3.GrpcService, out *ADS) error {
	if err := grpcServiceFields.check(g); err != nil {
		return err
	}
	eg := g.GetEnvoyGrpc()
	if eg == nil {
		return errorf("envoy_grpc", "required")
	}
	if err := envoyGRPCFields.check(eg); err != nil {
		return within("envoy_grpc", err)
	}
	out.Cluster = eg.GetClusterName()
	for i, h := range g.GetInitialMetadata() {
		if err := metadataFields.check(h); err != nil {
			return within(index("initial_metadata", i), err)
		}
		out.Metadata = append(out.Metadata, spec.Header{Key: h.GetKey(), Value: h.GetValue()})
	}
	return nil
}

// adsTargets returns the endpoint addresses of the static cluster name,
// and its TLS transport (nil for plaintext). SDS secrets cannot be used
// there: they would have to arrive over the stream they secure.
func adsTargets(static *Set, name string) ([]string, *spec.UpstreamTLS, error) {
	for _, c := range static.Clusters {
		if c.Name != name {
			continue
		}
		if c.Type != DiscoveryStatic {
			return nil, nil, errorf("", "cluster %q must be of type STATIC", name)
		}
		var targets []string
		for _, e := range c.Static.Endpoints {
			targets = append(targets, e.Address)
		}
		if len(targets) == 0 {
			return nil, nil, errorf("", "cluster %q has no endpoints", name)
		}
		if len(c.SecretNames()) > 0 {
			return nil, nil, errorf("", "cluster %q: SDS secrets are not supported on the ADS cluster", name)
		}
		return targets, c.TLS, nil
	}
	return nil, nil, errorf("", "no static cluster named %q", name)
}
