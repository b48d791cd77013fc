package config

import (
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
)

var (
	accessFilterFields = allow(&accesslogv3.AccessLogFilter{}, "status_code_filter", "duration_filter",
		"not_health_check_filter", "traceable_filter", "runtime_filter", "and_filter", "or_filter",
		"header_filter", "response_flag_filter", "grpc_status_filter")
	comparisonFields    = allow(&accesslogv3.ComparisonFilter{}, "op", "value")
	runtimeUInt32Fields = allow(&corev3.RuntimeUInt32{}, "default_value", "runtime_key")
	runtimeFilterFields = allow(&accesslogv3.RuntimeFilter{}, "runtime_key", "percent_sampled", "use_independent_randomness")
	headerFilterFields  = allow(&accesslogv3.HeaderFilter{}, "header")
	flagFilterFields    = allow(&accesslogv3.ResponseFlagFilter{}, "flags")
	grpcFilterFields    = allow(&accesslogv3.GrpcStatusFilter{}, "statuses", "exclude")
)

var compareOps = map[accesslogv3.ComparisonFilter_Op]spec.CompareOp{
	accesslogv3.ComparisonFilter_EQ: spec.CompareEQ, accesslogv3.ComparisonFilter_GE: spec.CompareGE,
	accesslogv3.ComparisonFilter_LE: spec.CompareLE, accesslogv3.ComparisonFilter_NE: spec.CompareNE,
}

// decodeAccessFilter decodes an access log filter. runtime_key fields are
// accepted and their defaults used.
func decodeAccessFilter(f *accesslogv3.AccessLogFilter) (spec.AccessLogFilter, error) {
	var out spec.AccessLogFilter
	if err := accessFilterFields.check(f); err != nil {
		return out, err
	}
	var err error
	switch {
	case f.GetStatusCodeFilter() != nil:
		out.Kind = spec.StatusCodeFilter
		err = wrapIf("status_code_filter", decodeComparison(f.GetStatusCodeFilter().GetComparison(), &out))
	case f.GetDurationFilter() != nil:
		out.Kind = spec.DurationFilter
		err = wrapIf("duration_filter", decodeComparison(f.GetDurationFilter().GetComparison(), &out))
	case f.GetNotHealthCheckFilter() != nil:
		out.Kind = spec.NotHealthCheckFilter
	case f.GetTraceableFilter() != nil:
		out.Kind = spec.TraceableFilter
	case f.GetRuntimeFilter() != nil:
		err = wrapIf("runtime_filter", decodeRuntimeFilter(f.GetRuntimeFilter(), &out))
	case f.GetAndFilter() != nil:
		out.Kind = spec.AndFilter
		out.Children, err = decodeAccessFilters(f.GetAndFilter().GetFilters())
		err = wrapIf("and_filter.filters", err)
	case f.GetOrFilter() != nil:
		out.Kind = spec.OrFilter
		out.Children, err = decodeAccessFilters(f.GetOrFilter().GetFilters())
		err = wrapIf("or_filter.filters", err)
	case f.GetHeaderFilter() != nil:
		err = wrapIf("header_filter", decodeHeaderFilter(f.GetHeaderFilter(), &out))
	case f.GetResponseFlagFilter() != nil:
		err = wrapIf("response_flag_filter", decodeFlagFilter(f.GetResponseFlagFilter(), &out))
	case f.GetGrpcStatusFilter() != nil:
		err = wrapIf("grpc_status_filter", decodeGRPCFilter(f.GetGrpcStatusFilter(), &out))
	default:
		return out, errorf("", "a filter is required")
	}
	return out, err
}

func decodeAccessFilters(fs []*accesslogv3.AccessLogFilter) ([]spec.AccessLogFilter, error) {
	if len(fs) < 2 {
		return nil, errorf("", "at least 2 filters are required")
	}
	var out []spec.AccessLogFilter
	for i, f := range fs {
		d, err := decodeAccessFilter(f)
		if err != nil {
			return nil, within(index("", i), err)
		}
		out = append(out, d)
	}
	return out, nil
}

func decodeComparison(c *accesslogv3.ComparisonFilter, out *spec.AccessLogFilter) error {
	if err := comparisonFields.check(c); err != nil {
		return within("comparison", err)
	}
	if err := runtimeUInt32Fields.check(c.GetValue()); err != nil {
		return within("comparison.value", err)
	}
	op, ok := compareOps[c.GetOp()]
	if !ok {
		return errorf("comparison.op", "%s is not supported", c.GetOp())
	}
	out.Op, out.Value = op, c.GetValue().GetDefaultValue()
	return nil
}

// decodeRuntimeFilter: percent_sampled defaults to 0%, as Envoy's.
func decodeRuntimeFilter(rf *accesslogv3.RuntimeFilter, out *spec.AccessLogFilter) error {
	if err := runtimeFilterFields.check(rf); err != nil {
		return err
	}
	out.Kind = spec.RuntimeFilter
	out.Fraction = spec.Fraction{Numerator: 0, Denominator: 100}
	if p := rf.GetPercentSampled(); p != nil {
		out.Fraction = decodeFraction(p)
	}
	return nil
}

func decodeHeaderFilter(h *accesslogv3.HeaderFilter, out *spec.AccessLogFilter) error {
	if err := headerFilterFields.check(h); err != nil {
		return err
	}
	if h.GetHeader() == nil {
		return errorf("header", "required")
	}
	m, err := decodeHeaderMatch(h.GetHeader())
	if err != nil {
		return within("header", err)
	}
	out.Kind, out.Header = spec.HeaderFilter, m
	return nil
}

func decodeFlagFilter(f *accesslogv3.ResponseFlagFilter, out *spec.AccessLogFilter) error {
	if err := flagFilterFields.check(f); err != nil {
		return err
	}
	for i, name := range f.GetFlags() {
		if _, ok := format.ResponseFlag(name); !ok {
			return errorf(index("flags", i), "unknown response flag %q", name)
		}
	}
	out.Kind, out.Flags = spec.ResponseFlagFilter, f.GetFlags()
	return nil
}

func decodeGRPCFilter(f *accesslogv3.GrpcStatusFilter, out *spec.AccessLogFilter) error {
	if err := grpcFilterFields.check(f); err != nil {
		return err
	}
	for i, s := range f.GetStatuses() {
		if s < 0 || s > 16 {
			return errorf(index("statuses", i), "unknown gRPC status %d", s)
		}
		out.GRPCStatuses = append(out.GRPCStatuses, int(s))
	}
	out.Kind, out.Exclude = spec.GRPCStatusFilter, f.GetExclude()
	return nil
}
