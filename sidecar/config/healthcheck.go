package config

import (
	"encoding/hex"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// defaultNoTrafficInterval is Envoy's default no_traffic_interval.
const defaultNoTrafficInterval = 60 * time.Second

var (
	// reuse_connection is left out: every check opens a new connection
	// (Envoy's reuse_connection false). custom_health_check is not
	// implemented.
	healthCheckFields = allow(&corev3.HealthCheck{},
		"timeout", "interval", "initial_jitter", "interval_jitter", "interval_jitter_percent",
		"unhealthy_threshold", "healthy_threshold", "http_health_check", "tcp_health_check", "grpc_health_check",
		"no_traffic_interval", "unhealthy_interval", "unhealthy_edge_interval", "healthy_edge_interval",
		"always_log_health_check_failures")
	httpCheckFields = allow(&corev3.HealthCheck_HttpHealthCheck{},
		"host", "path", "request_headers_to_add", "expected_statuses", "retriable_statuses", "method")
	tcpCheckFields  = allow(&corev3.HealthCheck_TcpHealthCheck{}, "send", "receive")
	payloadFields   = allow(&corev3.HealthCheck_Payload{}, "text")
	grpcCheckFields = allow(&corev3.HealthCheck_GrpcHealthCheck{}, "service_name", "authority", "initial_metadata")
)

// decodeHealthChecks sets out.HealthCheck from the cluster's one
// health_checks entry, with Envoy's defaults.
func decodeHealthChecks(c *clusterv3.Cluster, out *Cluster) error {
	hcs := c.GetHealthChecks()
	if len(hcs) > 1 {
		return errorf(index("health_checks", 1), "only one health check per cluster is supported")
	}
	if len(hcs) == 0 {
		return nil
	}
	hc, err := decodeHealthCheck(hcs[0], c.GetName())
	if err != nil {
		return within(index("health_checks", 0), err)
	}
	out.HealthCheck = hc
	return nil
}

func decodeHealthCheck(h *corev3.HealthCheck, clusterName string) (*spec.HealthCheck, error) {
	if err := healthCheckFields.check(h); err != nil {
		return nil, err
	}
	out := &spec.HealthCheck{
		HealthyThreshold:      h.GetHealthyThreshold().GetValue(),
		UnhealthyThreshold:    h.GetUnhealthyThreshold().GetValue(),
		IntervalJitterPercent: h.GetIntervalJitterPercent(),
		AlwaysLogFailures:     h.GetAlwaysLogHealthCheckFailures(),
	}
	if err := decodeCheckDurations(h, out); err != nil {
		return nil, err
	}
	switch {
	case h.GetHttpHealthCheck() != nil:
		hc, err := decodeHTTPCheck(h.GetHttpHealthCheck(), clusterName)
		if err != nil {
			return nil, within("http_health_check", err)
		}
		out.HTTP = hc
	case h.GetTcpHealthCheck() != nil:
		tc, err := decodeTCPCheck(h.GetTcpHealthCheck())
		if err != nil {
			return nil, within("tcp_health_check", err)
		}
		out.TCP = tc
	case h.GetGrpcHealthCheck() != nil:
		gc, err := decodeGRPCCheck(h.GetGrpcHealthCheck(), clusterName)
		if err != nil {
			return nil, within("grpc_health_check", err)
		}
		out.GRPC = gc
	}
	return out, nil
}

// decodeCheckDurations fills the check's durations, defaulting as Envoy
// does: no_traffic_interval to 60s, unhealthy_interval to interval,
// unhealthy_edge_interval to unhealthy_interval, healthy_edge_interval to
// interval. Validation has required timeout and interval, and every set
// interval to be positive.
func decodeCheckDurations(h *corev3.HealthCheck, out *spec.HealthCheck) error {
	out.Timeout, out.Interval = h.GetTimeout().AsDuration(), h.GetInterval().AsDuration()
	fields := []struct {
		name string
		d    *durationpb.Duration
		dst  *time.Duration
		def  time.Duration
	}{
		{"initial_jitter", h.GetInitialJitter(), &out.InitialJitter, 0},
		{"interval_jitter", h.GetIntervalJitter(), &out.IntervalJitter, 0},
		{"no_traffic_interval", h.GetNoTrafficInterval(), &out.NoTrafficInterval, defaultNoTrafficInterval},
		{"unhealthy_interval", h.GetUnhealthyInterval(), &out.UnhealthyInterval, out.Interval},
		{"unhealthy_edge_interval", h.GetUnhealthyEdgeInterval(), &out.UnhealthyEdgeInterval, 0},
		{"healthy_edge_interval", h.GetHealthyEdgeInterval(), &out.HealthyEdgeInterval, out.Interval},
	}
	for _, f := range fields {
		v, err := durationOr(f.d, f.def)
		if err != nil {
			return within(f.name, err)
		}
		*f.dst = v
	}
	if out.UnhealthyEdgeInterval == 0 {
		out.UnhealthyEdgeInterval = out.UnhealthyInterval
	}
	return nil
}

func decodeHTTPCheck(h *corev3.HealthCheck_HttpHealthCheck, clusterName string) (*spec.HTTPHealthCheck, error) {
	if err := httpCheckFields.check(h); err != nil {
		return nil, err
	}
	out := &spec.HTTPHealthCheck{Host: h.GetHost(), Path: h.GetPath(), Method: "GET"}
	if out.Host == "" {
		out.Host = clusterName
	}
	switch m := h.GetMethod(); m {
	case corev3.RequestMethod_METHOD_UNSPECIFIED:
	case corev3.RequestMethod_CONNECT:
		return nil, errorf("method", "CONNECT is not allowed")
	default:
		out.Method = m.String()
	}
	headers, err := decodeHeaderOptions(h.GetRequestHeadersToAdd())
	if err != nil {
		return nil, within("request_headers_to_add", err)
	}
	out.Headers = headers
	out.Expected = statusRanges(h.GetExpectedStatuses())
	if len(out.Expected) == 0 {
		out.Expected = []spec.StatusRange{{Start: 200, End: 201}}
	}
	out.Retriable = statusRanges(h.GetRetriableStatuses())
	return out, nil
}

// statusRanges converts Int64Ranges, which validation bounds to
// [100, 600).
func statusRanges(rs []*typev3.Int64Range) []spec.StatusRange {
	var out []spec.StatusRange
	for _, r := range rs {
		out = append(out, spec.StatusRange{Start: int(r.GetStart()), End: int(r.GetEnd())})
	}
	return out
}

func decodeTCPCheck(h *corev3.HealthCheck_TcpHealthCheck) (*spec.TCPHealthCheck, error) {
	if err := tcpCheckFields.check(h); err != nil {
		return nil, err
	}
	out := &spec.TCPHealthCheck{}
	if h.GetSend() != nil {
		b, err := decodePayload(h.GetSend())
		if err != nil {
			return nil, within("send", err)
		}
		out.Send = b
	}
	for i, p := range h.GetReceive() {
		b, err := decodePayload(p)
		if err != nil {
			return nil, within(index("receive", i), err)
		}
		out.Receive = append(out.Receive, b)
	}
	return out, nil
}

// decodePayload decodes a hex text payload; binary payloads are not
// supported.
func decodePayload(p *corev3.HealthCheck_Payload) ([]byte, error) {
	if err := payloadFields.check(p); err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(p.GetText())
	if err != nil {
		return nil, errorf("text", "not hex: %v", err)
	}
	return b, nil
}

func decodeGRPCCheck(h *corev3.HealthCheck_GrpcHealthCheck, clusterName string) (*spec.GRPCHealthCheck, error) {
	if err := grpcCheckFields.check(h); err != nil {
		return nil, err
	}
	md, err := decodeHeaderOptions(h.GetInitialMetadata())
	if err != nil {
		return nil, within("initial_metadata", err)
	}
	out := &spec.GRPCHealthCheck{ServiceName: h.GetServiceName(), Authority: h.GetAuthority(), Metadata: md}
	if out.Authority == "" {
		out.Authority = clusterName
	}
	return out, nil
}
