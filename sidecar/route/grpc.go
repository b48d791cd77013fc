package route

import (
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// RequestTimeout returns the timeout of req on r: the route's, or, when
// the route takes gRPC timeouts from the request and req has a valid
// grpc-timeout header, that (capped at the route's maximum, less its
// offset, as Envoy's max_stream_duration.grpc_timeout_header_max). 0
// means none. It does not allocate.
func (r *Route) RequestTimeout(req *Request) time.Duration {
	g := r.GRPCTimeout
	if g == nil {
		return r.Timeout
	}
	v, ok := req.Header("grpc-timeout")
	if !ok {
		return r.Timeout
	}
	d, ok := ParseGRPCTimeout(v)
	if !ok {
		return r.Timeout
	}
	if g.Max > 0 && (d == 0 || d > g.Max) {
		d = g.Max
	}
	if d > 0 && g.Offset > 0 {
		d = max(d-g.Offset, time.Millisecond)
	}
	return d
}

// ParseGRPCTimeout parses a grpc-timeout value: at most 8 digits and a
// unit, H, M, S, m, u or n (gRPC over HTTP/2, "Timeout").
func ParseGRPCTimeout(v []byte) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	var n int64
	for _, c := range v[:len(v)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	unit := grpcUnit(v[len(v)-1])
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// grpcUnit returns the duration of a grpc-timeout unit, 0 if invalid.
func grpcUnit(c byte) time.Duration {
	switch c {
	case 'H':
		return time.Hour
	case 'M':
		return time.Minute
	case 'S':
		return time.Second
	case 'm':
		return time.Millisecond
	case 'u':
		return time.Microsecond
	case 'n':
		return time.Nanosecond
	}
	return 0
}

// compileGRPCTimeout copies the route's gRPC timeout rule.
func compileGRPCTimeout(g *spec.GRPCTimeout) *spec.GRPCTimeout {
	if g == nil {
		return nil
	}
	c := *g
	return &c
}

// GRPCStatusFromHTTP maps an HTTP status to the gRPC status Envoy's
// Grpc::Utility::httpToGrpcStatus gives it: what a gRPC client is told of
// a reply that carries no grpc-status of its own.
func GRPCStatusFromHTTP(code int) int {
	switch code {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}
