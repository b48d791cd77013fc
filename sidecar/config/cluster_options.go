package config

import (
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// defaultUpstreamIdleTimeout is Envoy's default idle_timeout for upstream
// HTTP connections.
const defaultUpstreamIdleTimeout = time.Hour

var (
	// Only idle_timeout of the common options is implemented.
	commonHTTPFields = allow(&corev3.HttpProtocolOptions{}, "idle_timeout")
	// Data-plane clusters speak HTTP/1.1: the upstream protocol, which
	// Envoy requires, must be explicit_http_config.http_protocol_options,
	// with no options.
	upstreamHTTPFields  = allow(&httpv3.HttpProtocolOptions{}, "common_http_protocol_options", "explicit_http_config")
	explicitHTTP1Fields = allow(&httpv3.HttpProtocolOptions_ExplicitHttpConfig{}, "http_protocol_options")
	http1Fields         = allow(&corev3.Http1ProtocolOptions{})
)

// decodeHTTPOptions sets out.IdleTimeout from the cluster's
// common_http_protocol_options, or from the common_http_protocol_options
// of an HttpProtocolOptions in typed_extension_protocol_options (Envoy's
// newer place for it; setting both is an error), or Envoy's default.
func decodeHTTPOptions(c *clusterv3.Cluster, out *Cluster) error {
	common := c.GetCommonHttpProtocolOptions()
	path := "common_http_protocol_options"
	for key, a := range c.GetTypedExtensionProtocolOptions() {
		p := fmt.Sprintf("typed_extension_protocol_options[%q]", key)
		if key != httpOptionsKey || a.GetTypeUrl() != httpOptionsType {
			return errorf(p, "only %s is supported", httpOptionsKey)
		}
		o := &httpv3.HttpProtocolOptions{}
		if err := unpack(a, o); err != nil {
			return within(p, err)
		}
		if err := checkUpstreamHTTP(o); err != nil {
			return within(p, err)
		}
		if common != nil && o.GetCommonHttpProtocolOptions() != nil {
			return errorf(p+".common_http_protocol_options", "also set in common_http_protocol_options")
		}
		if o.GetCommonHttpProtocolOptions() != nil {
			common, path = o.GetCommonHttpProtocolOptions(), p+".common_http_protocol_options"
		}
	}
	if err := commonHTTPFields.check(common); err != nil {
		return within(path, err)
	}
	idle, err := durationOr(common.GetIdleTimeout(), defaultUpstreamIdleTimeout)
	if err != nil {
		return within(path+".idle_timeout", err)
	}
	out.IdleTimeout = idle
	return nil
}

// checkUpstreamHTTP requires o to select plain HTTP/1.1 upstreams.
func checkUpstreamHTTP(o *httpv3.HttpProtocolOptions) error {
	if err := upstreamHTTPFields.check(o); err != nil {
		return err
	}
	ex := o.GetExplicitHttpConfig()
	if err := explicitHTTP1Fields.check(ex); err != nil {
		return within("explicit_http_config", err)
	}
	if err := http1Fields.check(ex.GetHttpProtocolOptions()); err != nil {
		return within("explicit_http_config.http_protocol_options", err)
	}
	return nil
}
