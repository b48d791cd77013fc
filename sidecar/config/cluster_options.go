package config

import (
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// defaultUpstreamIdleTimeout is Envoy's default idle_timeout for upstream
// HTTP connections.
const defaultUpstreamIdleTimeout = time.Hour

var (
	commonHTTPFields   = allow(&corev3.HttpProtocolOptions{}, "idle_timeout", "max_requests_per_connection")
	upstreamHTTPFields = allow(&httpv3.HttpProtocolOptions{},
		"common_http_protocol_options", "explicit_http_config", "use_downstream_protocol_config", "auto_config")
	autoConfigFields       = allow(&httpv3.HttpProtocolOptions_AutoHttpConfig{}, "http_protocol_options", "http2_protocol_options")
	explicitConfigFields   = allow(&httpv3.HttpProtocolOptions_ExplicitHttpConfig{}, "http_protocol_options", "http2_protocol_options")
	downstreamConfigFields = allow(&httpv3.HttpProtocolOptions_UseDownstreamHttpConfig{}, "http_protocol_options", "http2_protocol_options")
	http1Fields            = allow(&corev3.Http1ProtocolOptions{})
	// Of the HTTP/2 options only the stream limit is implemented: the
	// upstream codec keeps x/net's flow-control windows.
	upstreamHTTP2Fields = allow(&corev3.Http2ProtocolOptions{}, "max_concurrent_streams")
)

// decodeHTTPOptions decodes the cluster's upstream HTTP options: the
// protocol from an HttpProtocolOptions in typed_extension_protocol_options
// or the legacy http2_protocol_options (HTTP/1.1 without either), and
// idle_timeout and max_requests_per_connection from the cluster's
// common_http_protocol_options or the HttpProtocolOptions' (Envoy's newer
// place for them; setting both is an error). The idle timeout defaults to
// Envoy's 1h.
func decodeHTTPOptions(c *clusterv3.Cluster, out *Cluster) error {
	common := c.GetCommonHttpProtocolOptions()
	path := "common_http_protocol_options"
	if h2 := c.GetHttp2ProtocolOptions(); h2 != nil {
		if err := decodeUpstreamHTTP2(h2, &out.HTTP); err != nil {
			return within("http2_protocol_options", err)
		}
	}
	for key, a := range c.GetTypedExtensionProtocolOptions() {
		p := fmt.Sprintf("typed_extension_protocol_options[%q]", key)
		if key != httpOptionsKey || a.GetTypeUrl() != httpOptionsType {
			return errorf(p, "only %s is supported", httpOptionsKey)
		}
		if c.GetHttp2ProtocolOptions() != nil {
			return errorf(p, "also set in http2_protocol_options")
		}
		o := &httpv3.HttpProtocolOptions{}
		if err := unpack(a, o); err != nil {
			return within(p, err)
		}
		if err := decodeUpstreamHTTP(o, &out.HTTP); err != nil {
			return within(p, err)
		}
		if common != nil && o.GetCommonHttpProtocolOptions() != nil {
			return errorf(p+".common_http_protocol_options", "also set in common_http_protocol_options")
		}
		if o.GetCommonHttpProtocolOptions() != nil {
			common, path = o.GetCommonHttpProtocolOptions(), p+".common_http_protocol_options"
		}
	}
	return decodeCommonHTTP(common, path, out)
}

// decodeCommonHTTP decodes common_http_protocol_options at path.
func decodeCommonHTTP(common *corev3.HttpProtocolOptions, path string, out *Cluster) error {
	if err := commonHTTPFields.check(common); err != nil {
		return within(path, err)
	}
	idle, err := durationOr(common.GetIdleTimeout(), defaultUpstreamIdleTimeout)
	if err != nil {
		return within(path+".idle_timeout", err)
	}
	out.IdleTimeout = idle
	if m := common.GetMaxRequestsPerConnection(); m != nil {
		if out.HTTP.Protocol == spec.UpstreamHTTP1 {
			return errorf(path+".max_requests_per_connection", "only supported with HTTP/2 upstreams")
		}
		out.HTTP.MaxRequestsPerConnection = m.GetValue()
	}
	return nil
}

// decodeUpstreamHTTP decodes the protocol an HttpProtocolOptions selects:
// explicit HTTP/1.1 (no options) or HTTP/2, or the downstream's.
func decodeUpstreamHTTP(o *httpv3.HttpProtocolOptions, out *spec.UpstreamHTTP) error {
	if err := upstreamHTTPFields.check(o); err != nil {
		return err
	}
	if d := o.GetUseDownstreamProtocolConfig(); d != nil {
		if err := downstreamConfigFields.check(d); err != nil {
			return within("use_downstream_protocol_config", err)
		}
		if err := http1Fields.check(d.GetHttpProtocolOptions()); err != nil {
			return within("use_downstream_protocol_config.http_protocol_options", err)
		}
		out.Protocol = spec.UpstreamDownstream
		if err := decodeHTTP2Limits(d.GetHttp2ProtocolOptions(), out); err != nil {
			return within("use_downstream_protocol_config.http2_protocol_options", err)
		}
		return nil
	}
	if a := o.GetAutoConfig(); a != nil {
		return decodeAutoConfig(a, out)
	}
	// Without a protocol config (which Envoy requires) the cluster stays
	// HTTP/1.1, as before this field was decoded.
	ex := o.GetExplicitHttpConfig()
	if err := explicitConfigFields.check(ex); err != nil {
		return within("explicit_http_config", err)
	}
	if h2 := ex.GetHttp2ProtocolOptions(); h2 != nil {
		if err := decodeUpstreamHTTP2(h2, out); err != nil {
			return within("explicit_http_config.http2_protocol_options", err)
		}
		return nil
	}
	if err := http1Fields.check(ex.GetHttpProtocolOptions()); err != nil {
		return within("explicit_http_config.http_protocol_options", err)
	}
	return nil
}

// decodeUpstreamHTTP2 selects HTTP/2 with h2's options.
func decodeUpstreamHTTP2(h2 *corev3.Http2ProtocolOptions, out *spec.UpstreamHTTP) error {
	out.Protocol = spec.UpstreamHTTP2
	return decodeHTTP2Limits(h2, out)
}

// decodeHTTP2Limits decodes the HTTP/2 options the upstream codec
// implements (nil: none).
func decodeHTTP2Limits(h2 *corev3.Http2ProtocolOptions, out *spec.UpstreamHTTP) error {
	if h2 == nil {
		return nil
	}
	if err := upstreamHTTP2Fields.check(h2); err != nil {
		return err
	}
	if m := h2.GetMaxConcurrentStreams(); m != nil {
		out.MaxConcurrentStreams = m.GetValue()
	}
	return nil
}

// decodeAutoConfig selects HTTP/2 or HTTP/1.1 per connection by ALPN
// (auto_config); [checkAutoConfig] then requires TLS.
func decodeAutoConfig(a *httpv3.HttpProtocolOptions_AutoHttpConfig, out *spec.UpstreamHTTP) error {
	if err := autoConfigFields.check(a); err != nil {
		return within("auto_config", err)
	}
	if err := http1Fields.check(a.GetHttpProtocolOptions()); err != nil {
		return within("auto_config.http_protocol_options", err)
	}
	out.Protocol = spec.UpstreamAuto
	if err := decodeHTTP2Limits(a.GetHttp2ProtocolOptions(), out); err != nil {
		return within("auto_config.http2_protocol_options", err)
	}
	return nil
}

// checkAutoConfig refuses auto_config on a cluster without a TLS
// transport socket, which has no ALPN to choose by (Envoy: "ALPN
// configured for cluster ... which has a non-ALPN transport socket").
func checkAutoConfig(out *Cluster) error {
	if out.HTTP.Protocol == spec.UpstreamAuto && out.TLS == nil {
		return errorf(fmt.Sprintf("typed_extension_protocol_options[%q].auto_config", httpOptionsKey),
			"needs a TLS transport_socket: the protocol is chosen by ALPN")
	}
	return nil
}
