package config

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// outlierFields are the consecutive-failure detectors and the
// (external-origin) success-rate detector. The failure-percentage and
// local-origin success-rate detectors are not run: their fields
// (failure_percentage_*, enforcing_failure_percentage*,
// enforcing_local_origin_success_rate) are NACKed when set, so
// `outlier_detection: {}` (what Consul sends) is accepted.
var outlierFields = allow(&clusterv3.OutlierDetection{},
	"consecutive_5xx", "consecutive_gateway_failure", "consecutive_local_origin_failure",
	"split_external_local_origin_errors", "interval", "base_ejection_time", "max_ejection_time",
	"max_ejection_percent", "enforcing_consecutive_5xx", "enforcing_consecutive_gateway_failure",
	"enforcing_consecutive_local_origin_failure", "success_rate_minimum_hosts", "success_rate_request_volume",
	"success_rate_stdev_factor", "enforcing_success_rate")

// Envoy's outlier_detection defaults.
const (
	defaultOutlierInterval  = 10 * time.Second
	defaultBaseEjectionTime = 30 * time.Second
	defaultMaxEjectionTime  = 300 * time.Second
)

// decodeOutlier decodes a cluster's outlier_detection with Envoy's
// defaults; nil when unset.
func decodeOutlier(o *clusterv3.OutlierDetection) (*spec.OutlierDetection, error) {
	if o == nil {
		return nil, nil
	}
	if err := outlierFields.check(o); err != nil {
		return nil, err
	}
	out := &spec.OutlierDetection{
		Consecutive5xx:                         u32Or(o.GetConsecutive_5Xx(), 5),
		EnforcingConsecutive5xx:                u32Or(o.GetEnforcingConsecutive_5Xx(), 100),
		ConsecutiveGatewayFailure:              u32Or(o.GetConsecutiveGatewayFailure(), 5),
		EnforcingConsecutiveGatewayFailure:     u32Or(o.GetEnforcingConsecutiveGatewayFailure(), 0),
		ConsecutiveLocalOriginFailure:          u32Or(o.GetConsecutiveLocalOriginFailure(), 5),
		EnforcingConsecutiveLocalOriginFailure: u32Or(o.GetEnforcingConsecutiveLocalOriginFailure(), 100),
		SplitLocalOrigin:                       o.GetSplitExternalLocalOriginErrors(),
		MaxEjectionPercent:                     min(u32Or(o.GetMaxEjectionPercent(), 10), 100),
		SuccessRateMinimumHosts:                u32Or(o.GetSuccessRateMinimumHosts(), 5),
		SuccessRateRequestVolume:               u32Or(o.GetSuccessRateRequestVolume(), 100),
		SuccessRateStdevFactor:                 u32Or(o.GetSuccessRateStdevFactor(), 1900),
		EnforcingSuccessRate:                   u32Or(o.GetEnforcingSuccessRate(), 100),
	}
	durations := []struct {
		name string
		d    *durationpb.Duration
		def  time.Duration
		to   *time.Duration
	}{
		{"interval", o.GetInterval(), defaultOutlierInterval, &out.Interval},
		{"base_ejection_time", o.GetBaseEjectionTime(), defaultBaseEjectionTime, &out.BaseEjectionTime},
		{"max_ejection_time", o.GetMaxEjectionTime(), defaultMaxEjectionTime, &out.MaxEjectionTime},
	}
	for _, f := range durations {
		v, err := durationOr(f.d, f.def)
		if err != nil {
			return nil, within(f.name, err)
		}
		if v <= 0 {
			return nil, errorf(f.name, "must be positive")
		}
		*f.to = v
	}
	if out.MaxEjectionTime < out.BaseEjectionTime {
		return nil, errorf("max_ejection_time", "must not be less than base_ejection_time")
	}
	return out, nil
}

// u32Or returns w's value, or def when w is unset.
func u32Or(w *wrapperspb.UInt32Value, def uint32) uint32 {
	if w == nil {
		return def
	}
	return w.GetValue()
}
