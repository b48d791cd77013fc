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
