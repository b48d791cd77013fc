package config

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	grpclogv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	httpGRPCLogFields   = allow(&grpclogv3.HttpGrpcAccessLogConfig{}, "common_config", "additional_request_headers_to_log", "additional_response_headers_to_log", "additional_response_trailers_to_log")
	tcpGRPCLogFields    = allow(&grpclogv3.TcpGrpcAccessLogConfig{}, "common_config")
	commonGRPCLogFields = allow(&grpclogv3.CommonGrpcAccessLogConfig{}, "log_name", "grpc_service", "transport_api_version",
		"buffer_flush_interval", "buffer_size_bytes")
	logGRPCServiceFields = allow(&corev3.GrpcService{}, "envoy_grpc")
	logEnvoyGRPCFields   = allow(&corev3.GrpcService_EnvoyGrpc{}, "cluster_name")

	httpGRPCLogType = typeURL(&grpclogv3.HttpGrpcAccessLogConfig{})
	tcpGRPCLogType  = typeURL(&grpclogv3.TcpGrpcAccessLogConfig{})
)

// decodeGRPCLogger decodes an http_grpc access logger (HCM) or a tcp_grpc
// one (tcp_proxy): each logs its own kind of entry.
func decodeGRPCLogger(tc *anypb.Any, tcp bool, out *spec.AccessLog) error {
	switch url := tc.GetTypeUrl(); {
	case url == httpGRPCLogType && !tcp:
		m := &grpclogv3.HttpGrpcAccessLogConfig{}
		if err := unpackChecked(tc, m, httpGRPCLogFields.check); err != nil {
			return err
		}
		g, err := decodeCommonGRPCLog(m.GetCommonConfig())
		if err != nil {
			return within("common_config", err)
		}
		g.RequestHeaders = lower(m.GetAdditionalRequestHeadersToLog())
		g.ResponseHeaders = lower(m.GetAdditionalResponseHeadersToLog())
		g.ResponseTrailers = lower(m.GetAdditionalResponseTrailersToLog())
		out.GRPC = g
	case url == tcpGRPCLogType && tcp:
		m := &grpclogv3.TcpGrpcAccessLogConfig{}
		if err := unpackChecked(tc, m, tcpGRPCLogFields.check); err != nil {
			return err
		}
		g, err := decodeCommonGRPCLog(m.GetCommonConfig())
		if err != nil {
			return within("common_config", err)
		}
		out.GRPC, out.TCP = g, true
	case url == httpGRPCLogType || url == tcpGRPCLogType:
		return errorf("", "%q logs the other kind of traffic: http_grpc goes under an HTTP connection manager, tcp_grpc under tcp_proxy", url)
	default:
		return errorf("", "unsupported access logger %q", url)
	}
	return nil
}

func decodeCommonGRPCLog(c *grpclogv3.CommonGrpcAccessLogConfig) (*spec.GRPCAccessLog, error) {
	if err := commonGRPCLogFields.check(c); err != nil {
		return nil, err
	}
	if c.GetTransportApiVersion() != corev3.ApiVersion_V3 {
		return nil, errorf("transport_api_version", "only V3 is supported")
	}
	gs := c.GetGrpcService()
	if err := logGRPCServiceFields.check(gs); err != nil {
		return nil, within("grpc_service", err)
	}
	if err := logEnvoyGRPCFields.check(gs.GetEnvoyGrpc()); err != nil {
		return nil, within("grpc_service.envoy_grpc", err)
	}
	out := &spec.GRPCAccessLog{LogName: c.GetLogName(), Cluster: gs.GetEnvoyGrpc().GetClusterName(),
		BufferSize: c.GetBufferSizeBytes().GetValue()}
	if out.Cluster == "" {
		return nil, errorf("grpc_service.envoy_grpc.cluster_name", "required")
	}
	if d := c.GetBufferFlushInterval(); d != nil {
		if err := d.CheckValid(); err != nil {
			return nil, errorf("buffer_flush_interval", "%v", err)
		}
		out.FlushInterval = d.AsDuration()
	}
	return out, nil
}

func lower(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, strings.ToLower(n))
	}
	return out
}
