package spec

import "time"

// HealthCheck is a cluster's active health check (Envoy's
// config.core.v3.HealthCheck). Exactly one of HTTP and TCP is set.
// Decoders fill Envoy's defaults, so every interval here is > 0 except
// the jitters.
type HealthCheck struct {
	// Timeout bounds one check, from dial to verdict.
	Timeout time.Duration
	// Interval separates checks of a healthy endpoint of a cluster that
	// has carried traffic.
	Interval time.Duration
	// IntervalJitter adds a random [0, IntervalJitter) to every interval;
	// IntervalJitterPercent adds a random [0, interval*percent/100).
	IntervalJitter        time.Duration
	IntervalJitterPercent uint32
	// InitialJitter delays an endpoint's first check by a random
	// [0, InitialJitter).
	InitialJitter time.Duration
	// HealthyThreshold consecutive successes mark a failing endpoint
	// healthy (a new endpoint needs one); UnhealthyThreshold consecutive
	// network failures (or retriable statuses) mark a healthy one failing.
	HealthyThreshold, UnhealthyThreshold uint32
	// NoTrafficInterval replaces every other interval while the cluster
	// has never made an upstream connection (default 60s).
	NoTrafficInterval time.Duration
	// UnhealthyInterval separates checks of a failing endpoint (default
	// Interval); UnhealthyEdgeInterval is the one after an endpoint is
	// marked failing (default UnhealthyInterval) and HealthyEdgeInterval
	// the one after it is marked healthy (default Interval).
	UnhealthyInterval, UnhealthyEdgeInterval, HealthyEdgeInterval time.Duration
	// AlwaysLogFailures logs every failed check, not only transitions.
	AlwaysLogFailures bool
	HTTP              *HTTPHealthCheck
	TCP               *TCPHealthCheck
	GRPC              *GRPCHealthCheck
}

// GRPCHealthCheck is Envoy's HealthCheck.GrpcHealthCheck: the
// grpc.health.v1.Health/Check call over HTTP/2 (prior knowledge), which
// passes when the answer is SERVING.
type GRPCHealthCheck struct {
	// ServiceName is the request's service ("" for the server as a whole).
	ServiceName string
	// Authority is the :authority; decoders default it to the cluster's
	// name.
	Authority string
	Metadata  []HeaderValue
}

// HTTPHealthCheck is Envoy's HealthCheck.HttpHealthCheck over HTTP/1.1.
type HTTPHealthCheck struct {
	// Host is the Host header; decoders default it to the cluster's name.
	Host string
	Path string
	// Method defaults to GET.
	Method  string
	Headers []HeaderValue
	// Expected are the statuses that pass (default [200, 201)). A status
	// in Retriable counts toward the unhealthy threshold; any other fails
	// the endpoint at once.
	Expected, Retriable []StatusRange
}

// StatusRange is the half-open range of HTTP statuses [Start, End).
type StatusRange struct{ Start, End int }

// Contains reports whether code is in r.
func (r StatusRange) Contains(code int) bool { return code >= r.Start && code < r.End }

// TCPHealthCheck is Envoy's HealthCheck.TcpHealthCheck: with no Send and
// no Receive a check passes when the connection opens; otherwise Send is
// written and every Receive payload must arrive, in order.
type TCPHealthCheck struct {
	Send    []byte
	Receive [][]byte
}
