package config

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Envoy's default for http_connection_manager stream_idle_timeout.
const defaultStreamIdleTimeout = 5 * time.Minute

// defaultRequestHeadersTimeout bounds the reading of a request head when
// request_headers_timeout is not set. Envoy has no bound by default; a
// client sending one byte a second would hold a connection for minutes, so
// the sidecar uses HAProxy's usual "timeout http-request" (issue 7, item 2).
const defaultRequestHeadersTimeout = 10 * time.Second

var (
	hcmFields = allow(&hcmv3.HttpConnectionManager{},
		"stat_prefix", "codec_type", "rds", "route_config", "http_filters",
		"stream_idle_timeout", "request_timeout", "request_headers_timeout",
		"use_remote_address", "http_protocol_options", "http2_protocol_options",
		"tracing", "upgrade_configs", "normalize_path", "merge_slashes",
		"forward_client_cert_details", "set_current_client_cert_details", "generate_request_id",
		"preserve_external_request_id", "access_log")
	hcmHTTP2Fields = allow(&corev3.Http2ProtocolOptions{}, "max_concurrent_streams",
		"initial_stream_window_size", "initial_connection_window_size", "allow_connect")
	hcmHTTP1Fields = allow(&corev3.Http1ProtocolOptions{}, "accept_http_10", "default_host_for_http_10")
	// The config_source is not checked: the sidecar takes routes from
	// wherever its listeners come from (ADS).
	rdsFields        = allow(&hcmv3.Rds{}, "config_source", "route_config_name")
	httpFilterFields = allow(&hcmv3.HttpFilter{}, "name", "typed_config")
	routerFields     = allow(&routerv3.Router{}, "dynamic_stats", "suppress_envoy_headers")

	hcmType    = typeURL(&hcmv3.HttpConnectionManager{})
	routerType = typeURL(&routerv3.Router{})
)

// decodeHCM decodes the typed_config of an http_connection_manager filter.
func decodeHCM(a *anypb.Any) (*HTTPManager, error) {
	m := &hcmv3.HttpConnectionManager{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := hcmFields.check(m); err != nil {
		return nil, err
	}
	codec, err := decodeCodec(m.GetCodecType())
	if err != nil {
		return nil, err
	}
	filters, err := decodeHTTPFilters(m.GetHttpFilters())
	if err != nil {
		return nil, within("http_filters", err)
	}
	out, err := decodeHCMTimeouts(m)
	if err != nil {
		return nil, err
	}
	out.Filters, out.Codec = filters, codec
	if out.HTTP2, err = decodeHTTP2Options(m.GetHttp2ProtocolOptions()); err != nil {
		return nil, within("http2_protocol_options", err)
	}
	if err := decodeHTTP1Options(m.GetHttpProtocolOptions(), out); err != nil {
		return nil, within("http_protocol_options", err)
	}
	out.StatPrefix = m.GetStatPrefix()
	out.UseRemoteAddress = m.GetUseRemoteAddress().GetValue()
	if err := decodeHCMConsul(m, out); err != nil {
		return nil, err
	}
	if out.XFCC, err = decodeXFCC(m); err != nil {
		return nil, err
	}
	out.GenerateRequestID = m.GetGenerateRequestId() == nil || m.GetGenerateRequestId().GetValue()
	out.PreserveExternalRequestID = m.GetPreserveExternalRequestId()
	out.SuppressEnvoyHeaders = routerSuppresses(m.GetHttpFilters())
	if out.AccessLogs, err = decodeAccessLogs(m.GetAccessLog(), false); err != nil {
		return nil, within("access_log", err)
	}
	if err := decodeRouteSpecifier(m, out); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeHCMTimeouts(m *hcmv3.HttpConnectionManager) (*HTTPManager, error) {
	idle, err := durationOr(m.GetStreamIdleTimeout(), defaultStreamIdleTimeout)
	if err != nil {
		return nil, within("stream_idle_timeout", err)
	}
	req, err := durationOr(m.GetRequestTimeout(), 0)
	if err != nil {
		return nil, within("request_timeout", err)
	}
	head, err := durationOr(m.GetRequestHeadersTimeout(), defaultRequestHeadersTimeout)
	if err != nil {
		return nil, within("request_headers_timeout", err)
	}
	return &HTTPManager{StreamIdleTimeout: idle, RequestTimeout: req, RequestHeadersTimeout: head}, nil
}

// decodeHTTP1Options decodes the HTTP/1.0 options of http_protocol_options.
func decodeHTTP1Options(o *corev3.Http1ProtocolOptions, out *HTTPManager) error {
	if err := hcmHTTP1Fields.check(o); err != nil {
		return err
	}
	out.AcceptHTTP10 = o.GetAcceptHttp_10()
	out.DefaultHostHTTP10 = o.GetDefaultHostForHttp_10()
	return nil
}

// decodeCodec maps codec_type to the server codec.
func decodeCodec(c hcmv3.HttpConnectionManager_CodecType) (spec.Codec, error) {
	switch c {
	case hcmv3.HttpConnectionManager_AUTO:
		return spec.CodecAuto, nil
	case hcmv3.HttpConnectionManager_HTTP1:
		return spec.CodecHTTP1, nil
	case hcmv3.HttpConnectionManager_HTTP2:
		return spec.CodecHTTP2, nil
	}
	return 0, errorf("codec_type", "%s is not supported", c)
}

// decodeHTTP2Options decodes http2_protocol_options. Envoy's validation
// rules (ranges) have already been checked.
func decodeHTTP2Options(o *corev3.Http2ProtocolOptions) (spec.HTTP2Options, error) {
	if err := hcmHTTP2Fields.check(o); err != nil {
		return spec.HTTP2Options{}, err
	}
	return spec.HTTP2Options{
		MaxConcurrentStreams:        o.GetMaxConcurrentStreams().GetValue(),
		InitialStreamWindowSize:     o.GetInitialStreamWindowSize().GetValue(),
		InitialConnectionWindowSize: o.GetInitialConnectionWindowSize().GetValue(),
		AllowConnect:                o.GetAllowConnect(),
	}, nil
}

// decodeRouteSpecifier sets out.RDSName or out.Routes.
func decodeRouteSpecifier(m *hcmv3.HttpConnectionManager, out *HTTPManager) error {
	switch rs := m.GetRouteSpecifier().(type) {
	case *hcmv3.HttpConnectionManager_Rds:
		if err := rdsFields.check(rs.Rds); err != nil {
			return within("rds", err)
		}
		if out.RDSName = rs.Rds.GetRouteConfigName(); out.RDSName == "" {
			return errorf("rds.route_config_name", "must not be empty")
		}
	case *hcmv3.HttpConnectionManager_RouteConfig:
		rc, err := decodeRouteConfig(rs.RouteConfig)
		if err != nil {
			return within("route_config", err)
		}
		out.Routes = rc
	default:
		return errorf("route_specifier", "one of rds or route_config is required")
	}
	return nil
}

// checkRouter requires f, the last HTTP filter, to be the router, with no options that
// change its behaviour.
func checkRouter(f *hcmv3.HttpFilter) error {
	if err := httpFilterFields.check(f); err != nil {
		return err
	}
	tc := f.GetTypedConfig()
	if tc == nil {
		return errorf("typed_config", "required")
	}
	if tc.GetTypeUrl() != routerType {
		return errorf("typed_config", "unsupported HTTP filter %q: the last filter must be the router %q", tc.GetTypeUrl(), routerType)
	}
	r := &routerv3.Router{}
	if err := unpack(tc, r); err != nil {
		return within("typed_config", err)
	}
	if err := routerFields.check(r); err != nil {
		return within("typed_config", err)
	}
	return nil
}

// routerSuppresses reports the suppress_envoy_headers of the router, the
// last of fs (already checked by decodeHTTPFilters).
func routerSuppresses(fs []*hcmv3.HttpFilter) bool {
	r := &routerv3.Router{}
	if len(fs) == 0 || unpack(fs[len(fs)-1].GetTypedConfig(), r) != nil {
		return false
	}
	return r.GetSuppressEnvoyHeaders()
}
