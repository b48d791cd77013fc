package config

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	commonfaultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	localratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Envoy's lower bound on a local rate limit's fill_interval.
const minFillInterval = 50 * time.Millisecond

var (
	localRateLimitType = typeURL(&localratelimitv3.LocalRateLimit{})
	faultType          = typeURL(&faultv3.HTTPFault{})

	localRateLimitFields = allow(&localratelimitv3.LocalRateLimit{},
		"stat_prefix", "status", "token_bucket", "filter_enabled", "filter_enforced",
		"request_headers_to_add_when_not_enforced", "response_headers_to_add")
	tokenBucketFields   = allow(&typev3.TokenBucket{}, "max_tokens", "tokens_per_fill", "fill_interval")
	runtimeFracFields   = allow(&corev3.RuntimeFractionalPercent{}, "default_value", "runtime_key")
	headerOptionFields  = allow(&corev3.HeaderValueOption{}, "header", "append", "append_action")
	headerValueFields   = allow(&corev3.HeaderValue{}, "key", "value")
	faultFields         = allow(&faultv3.HTTPFault{}, "delay", "abort", "headers", "max_active_faults")
	faultDelayFields    = allow(&commonfaultv3.FaultDelay{}, "fixed_delay", "header_delay", "percentage")
	faultAbortFields    = allow(&faultv3.FaultAbort{}, "http_status", "header_abort", "percentage", "response_body")
	httpStatusFields    = allow(&typev3.HttpStatus{}, "code")
	fractionDenominator = map[typev3.FractionalPercent_DenominatorType]uint32{
		typev3.FractionalPercent_HUNDRED:      100,
		typev3.FractionalPercent_TEN_THOUSAND: 10_000,
		typev3.FractionalPercent_MILLION:      1_000_000,
	}
)

// decodeLocalRateLimit decodes a LocalRateLimit. A per-route one must have
// a token_bucket, as in Envoy.
func decodeLocalRateLimit(a *anypb.Any, perRoute bool) (any, error) {
	m := &localratelimitv3.LocalRateLimit{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := localRateLimitFields.check(m); err != nil {
		return nil, err
	}
	out := &spec.HTTPLocalRateLimit{StatPrefix: m.GetStatPrefix(), Status: 429}
	if c := m.GetStatus(); c != nil {
		if err := httpStatusFields.check(c); err != nil {
			return nil, within("status", err)
		}
		out.Status = int(c.GetCode())
	}
	var err error
	if out.Bucket, err = decodeTokenBucket(m.GetTokenBucket()); err != nil {
		return nil, within("token_bucket", err)
	}
	if out.Bucket == nil && perRoute {
		return nil, errorf("token_bucket", "required in typed_per_filter_config")
	}
	if out.Enabled, err = decodeRuntimeFraction(m.GetFilterEnabled()); err != nil {
		return nil, within("filter_enabled", err)
	}
	if out.Enforced, err = decodeRuntimeFraction(m.GetFilterEnforced()); err != nil {
		return nil, within("filter_enforced", err)
	}
	if out.RequestHeadersWhenNotEnforced, err = decodeHeaderOptions(m.GetRequestHeadersToAddWhenNotEnforced()); err != nil {
		return nil, within("request_headers_to_add_when_not_enforced", err)
	}
	if out.ResponseHeaders, err = decodeHeaderOptions(m.GetResponseHeadersToAdd()); err != nil {
		return nil, within("response_headers_to_add", err)
	}
	return out, nil
}

func decodeTokenBucket(b *typev3.TokenBucket) (*spec.TokenBucket, error) {
	if b == nil {
		return nil, nil
	}
	if err := tokenBucketFields.check(b); err != nil {
		return nil, err
	}
	out := &spec.TokenBucket{MaxTokens: b.GetMaxTokens(), TokensPerFill: 1}
	if v := b.GetTokensPerFill(); v != nil {
		out.TokensPerFill = v.GetValue()
	}
	var err error
	if out.FillInterval, err = durationOr(b.GetFillInterval(), 0); err != nil {
		return nil, within("fill_interval", err)
	}
	if out.FillInterval < minFillInterval {
		return nil, errorf("fill_interval", "must be at least %v", minFillInterval)
	}
	return out, nil
}

// decodeRuntimeFraction decodes a RuntimeFractionalPercent: its default
// (there is no runtime to look runtime_key up in); 0% when unset.
func decodeRuntimeFraction(r *corev3.RuntimeFractionalPercent) (spec.Fraction, error) {
	if r == nil {
		return spec.Fraction{Denominator: 100}, nil
	}
	if err := runtimeFracFields.check(r); err != nil {
		return spec.Fraction{}, err
	}
	return decodeFraction(r.GetDefaultValue()), nil
}

// decodeFraction decodes a FractionalPercent; unset is 0%.
func decodeFraction(p *typev3.FractionalPercent) spec.Fraction {
	return spec.Fraction{Numerator: p.GetNumerator(), Denominator: fractionDenominator[p.GetDenominator()]}
}

// decodeHeaderOptions decodes headers to add, appending (the default) or
// overwriting.
func decodeHeaderOptions(hs []*corev3.HeaderValueOption) ([]spec.HeaderValue, error) {
	var out []spec.HeaderValue
	for i, h := range hs {
		v, err := decodeHeaderOption(h)
		if err != nil {
			return nil, within(index("", i), err)
		}
		out = append(out, v)
	}
	return out, nil
}

func decodeHeaderOption(h *corev3.HeaderValueOption) (spec.HeaderValue, error) {
	if err := headerOptionFields.check(h); err != nil {
		return spec.HeaderValue{}, err
	}
	if err := headerValueFields.check(h.GetHeader()); err != nil {
		return spec.HeaderValue{}, within("header", err)
	}
	out := spec.HeaderValue{Name: h.GetHeader().GetKey(), Value: h.GetHeader().GetValue()}
	switch act := h.GetAppendAction(); {
	case h.GetAppend() != nil: // the deprecated field wins when set, as in Envoy
		out.Overwrite = !h.GetAppend().GetValue()
	case act == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		out.Overwrite = true
	case act != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		return spec.HeaderValue{}, errorf("append_action", "%s is not supported", act)
	}
	return out, nil
}

// decodeFault decodes an HTTPFault. An empty one is accepted and does
// nothing (routes may bring their own through typed_per_filter_config).
func decodeFault(a *anypb.Any, _ bool) (any, error) {
	m := &faultv3.HTTPFault{}
	if err := unpack(a, m); err != nil {
		return nil, err
	}
	if err := faultFields.check(m); err != nil {
		return nil, err
	}
	out := &spec.Fault{}
	var err error
	if out.Delay, err = decodeFaultDelay(m.GetDelay()); err != nil {
		return nil, within("delay", err)
	}
	if out.Abort, err = decodeFaultAbort(m.GetAbort()); err != nil {
		return nil, within("abort", err)
	}
	for i, h := range m.GetHeaders() {
		hm, err := decodeHeaderMatch(h)
		if err != nil {
			return nil, within(index("headers", i), err)
		}
		out.Headers = append(out.Headers, hm)
	}
	if v := m.GetMaxActiveFaults(); v != nil {
		n := v.GetValue()
		out.MaxActiveFaults = &n
	}
	return out, nil
}

func decodeFaultDelay(d *commonfaultv3.FaultDelay) (*spec.FaultDelay, error) {
	if d == nil {
		return nil, nil
	}
	if err := faultDelayFields.check(d); err != nil {
		return nil, err
	}
	out := &spec.FaultDelay{Percent: decodeFraction(d.GetPercentage()), FromHeader: d.GetHeaderDelay() != nil}
	if !out.FromHeader {
		var err error
		if out.Fixed, err = durationOr(d.GetFixedDelay(), 0); err != nil {
			return nil, within("fixed_delay", err)
		}
	}
	return out, nil
}

func decodeFaultAbort(a *faultv3.FaultAbort) (*spec.FaultAbort, error) {
	if a == nil {
		return nil, nil
	}
	if err := faultAbortFields.check(a); err != nil {
		return nil, err
	}
	return &spec.FaultAbort{
		Status:     int(a.GetHttpStatus()),
		FromHeader: a.GetHeaderAbort() != nil,
		Percent:    decodeFraction(a.GetPercentage()),
		Body:       a.GetResponseBody(),
	}, nil
}
