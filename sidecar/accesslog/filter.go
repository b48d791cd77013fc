package accesslog

import (
	"fmt"
	"math/rand/v2"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// filter decides whether a request or connection is logged. It must not
// block or allocate.
type filter interface {
	match(i *stream.Info, c *Capture) bool
}

// maxHeaderFilters bounds the header filters of one Set (a bit each in
// Capture.headers).
const maxHeaderFilters = 64

// compileFilter compiles f; nil logs everything. Header filters are
// added to s, which evaluates them when it captures the request.
func (s *Set) compileFilter(f *spec.AccessLogFilter) (filter, error) {
	if f == nil {
		return nil, nil
	}
	switch f.Kind {
	case spec.StatusCodeFilter:
		return statusFilter{f.Op, int64(f.Value)}, nil
	case spec.DurationFilter:
		return durationFilter{f.Op, int64(f.Value)}, nil
	case spec.NotHealthCheckFilter:
		return constFilter(true), nil
	case spec.TraceableFilter:
		return constFilter(false), nil
	case spec.RuntimeFilter:
		if f.Fraction.Denominator == 0 {
			return nil, fmt.Errorf("runtime_filter: no denominator")
		}
		return runtimeFilter(f.Fraction), nil
	case spec.AndFilter, spec.OrFilter:
		return s.compileBool(f)
	case spec.HeaderFilter:
		return s.compileHeader(f.Header)
	case spec.ResponseFlagFilter:
		return compileFlags(f.Flags)
	case spec.GRPCStatusFilter:
		s.wantGRPC = true
		return compileGRPC(f), nil
	}
	return nil, fmt.Errorf("access log filter kind %d is not supported", f.Kind)
}

func (s *Set) compileBool(f *spec.AccessLogFilter) (filter, error) {
	var kids []filter
	for i := range f.Children {
		k, err := s.compileFilter(&f.Children[i])
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	return boolFilter{and: f.Kind == spec.AndFilter, kids: kids}, nil
}

func compare(op spec.CompareOp, v, ref int64) bool {
	switch op {
	case spec.CompareGE:
		return v >= ref
	case spec.CompareLE:
		return v <= ref
	case spec.CompareNE:
		return v != ref
	}
	return v == ref
}

// statusFilter is Envoy's status_code_filter (0 when no response was
// sent, and for TCP).
type statusFilter struct {
	op  spec.CompareOp
	ref int64
}

func (f statusFilter) match(i *stream.Info, _ *Capture) bool {
	return compare(f.op, int64(i.Code), f.ref)
}

// durationFilter is Envoy's duration_filter, in milliseconds.
type durationFilter struct {
	op  spec.CompareOp
	ref int64
}

func (f durationFilter) match(i *stream.Info, _ *Capture) bool {
	return compare(f.op, i.Total.Milliseconds(), f.ref)
}

// constFilter always says the same: not_health_check_filter passes
// everything (meshlb has no health_check HTTP filter, so no request is a
// health check), traceable_filter nothing (meshlb traces no request).
type constFilter bool

func (f constFilter) match(*stream.Info, *Capture) bool { return bool(f) }

// runtimeFilter is Envoy's runtime_filter with its percent_sampled
// default (runtime_key overrides are not read): a random share.
type runtimeFilter spec.Fraction

func (f runtimeFilter) match(*stream.Info, *Capture) bool {
	return rand.Uint32N(f.Denominator) < f.Numerator
}

// boolFilter is Envoy's and_filter or or_filter.
type boolFilter struct {
	and  bool
	kids []filter
}

func (f boolFilter) match(i *stream.Info, c *Capture) bool {
	for _, k := range f.kids {
		if k.match(i, c) != f.and {
			return !f.and
		}
	}
	return f.and
}

// headerFilter is Envoy's header_filter: bit of the request's header
// matches, which the Set evaluated on the live request head. A TCP
// connection has no headers and matches none.
type headerFilter uint64

func (s *Set) compileHeader(h spec.HeaderMatch) (filter, error) {
	if len(s.headers) == maxHeaderFilters {
		return nil, fmt.Errorf("header_filter: more than %d in one access_log list", maxHeaderFilters)
	}
	m, err := route.CompileHeaders([]spec.HeaderMatch{h})
	if err != nil {
		return nil, fmt.Errorf("header_filter: %w", err)
	}
	s.headers = append(s.headers, m)
	return headerFilter(1) << (len(s.headers) - 1), nil
}

func (f headerFilter) match(_ *stream.Info, c *Capture) bool {
	return c != nil && c.headers&uint64(f) != 0
}

// flagFilter is Envoy's response_flag_filter: any of the flags (any flag
// at all when none is listed). Flags meshlb never raises match nothing.
type flagFilter struct {
	any   bool
	flags stream.Flags
}

func compileFlags(names []string) (filter, error) {
	f := flagFilter{any: len(names) == 0}
	for _, n := range names {
		fl, ok := format.ResponseFlag(n)
		if !ok {
			return nil, fmt.Errorf("response_flag_filter: unknown flag %q", n)
		}
		f.flags |= fl
	}
	return f, nil
}

func (f flagFilter) match(i *stream.Info, _ *Capture) bool {
	if f.any {
		return i.Flags != 0
	}
	return i.Flags&f.flags != 0
}

// grpcFilter is Envoy's grpc_status_filter: the response's gRPC status
// (grpc-status in its trailers, else in its head, else mapped from its
// HTTP status as Envoy does) is one of the set, or with exclude is not.
type grpcFilter struct {
	set     uint32 // bit per status 0..16
	exclude bool
}

func compileGRPC(f *spec.AccessLogFilter) filter {
	g := grpcFilter{exclude: f.Exclude}
	for _, s := range f.GRPCStatuses {
		g.set |= 1 << s
	}
	return g
}

func (f grpcFilter) match(i *stream.Info, c *Capture) bool {
	return (f.set&(1<<grpcStatus(i, c)) != 0) != f.exclude
}

// grpcUnknown is gRPC's UNKNOWN status.
const grpcUnknown = 2

// grpcStatus returns the gRPC status of a response, as Envoy's
// Grpc::Common::getGrpcStatus with its HTTP fallback does.
func grpcStatus(i *stream.Info, c *Capture) int {
	if c != nil {
		for _, h := range []*captured{&c.trail, &c.resp} {
			if v, ok := h.Header("grpc-status"); ok {
				if n, ok := smallInt(v); ok && n <= 16 {
					return n
				}
				return grpcUnknown
			}
		}
	}
	return route.GRPCStatusFromHTTP(i.Code)
}

func smallInt(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 2 {
		return 0, false
	}
	n := 0
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int(b-'0')
	}
	return n, true
}
