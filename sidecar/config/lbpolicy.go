package config

import (
	"time"

	xdstypev3 "github.com/cncf/xds/go/xds/type/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Envoy's slow_start_config defaults.
const (
	defaultAggression       = 1.0
	defaultMinWeightPercent = 10
)

var (
	leastRequestFields = allow(&clusterv3.Cluster_LeastRequestLbConfig{}, "choice_count", "active_request_bias", "slow_start_config")
	roundRobinFields   = allow(&clusterv3.Cluster_RoundRobinLbConfig{}, "slow_start_config")
	runtimeDouble      = allow(&corev3.RuntimeDouble{}, "default_value", "runtime_key")
)

// decodeLegacyLB decodes least_request_lb_config and round_robin_lb_config,
// each allowed only with its lb_policy.
func decodeLegacyLB(c *clusterv3.Cluster, out *Cluster) error {
	if lr := c.GetLeastRequestLbConfig(); lr != nil {
		if out.LBPolicy != "least_request" {
			return errorf("least_request_lb_config", "only allowed with lb_policy LEAST_REQUEST")
		}
		if err := leastRequestFields.check(lr); err != nil {
			return within("least_request_lb_config", err)
		}
		if err := decodeLeastRequest(lr, out); err != nil {
			return within("least_request_lb_config", err)
		}
	}
	if rr := c.GetRoundRobinLbConfig(); rr != nil {
		if out.LBPolicy != "round_robin" {
			return errorf("round_robin_lb_config", "only allowed with lb_policy ROUND_ROBIN")
		}
		if err := roundRobinFields.check(rr); err != nil {
			return within("round_robin_lb_config", err)
		}
		ss, err := decodeSlowStart(rr.GetSlowStartConfig())
		if err != nil {
			return within("round_robin_lb_config.slow_start_config", err)
		}
		out.SlowStart = ss
	}
	return nil
}

// decodeLeastRequest sets out's least-request options and slow start from
// the cluster's least_request_lb_config.
func decodeLeastRequest(lr *clusterv3.Cluster_LeastRequestLbConfig, out *Cluster) error {
	cfg, err := leastRequest(lr.GetChoiceCount().GetValue(), lr.GetActiveRequestBias())
	if err != nil {
		return err
	}
	out.LeastRequest = cfg
	if out.SlowStart, err = decodeSlowStart(lr.GetSlowStartConfig()); err != nil {
		return within("slow_start_config", err)
	}
	return nil
}

// leastRequest returns the least-request options: choices (0: default)
// and the active_request_bias, if set.
func leastRequest(choices uint32, bias *corev3.RuntimeDouble) (*LeastRequest, error) {
	cfg := &LeastRequest{ChoiceCount: choices}
	if bias == nil {
		return cfg, nil
	}
	if err := runtimeDouble.check(bias); err != nil {
		return nil, within("active_request_bias", err)
	}
	if bias.GetDefaultValue() < 0 {
		return nil, errorf("active_request_bias.default_value", "must not be negative")
	}
	cfg.ActiveRequestBias, cfg.BiasSet = bias.GetDefaultValue(), true
	return cfg, nil
}

// slowStartConfig is what the cluster's and the extensions'
// SlowStartConfig have in common.
type slowStartConfig interface {
	comparable
	GetSlowStartWindow() *durationpb.Duration
	GetAggression() *corev3.RuntimeDouble
	GetMinWeightPercent() *typev3.Percent
}

// decodeSlowStart decodes a slow_start_config (nil: none), with Envoy's
// defaults: aggression 1, min_weight_percent 10. A window of 0 means none.
func decodeSlowStart[S slowStartConfig](ss S) (*SlowStart, error) {
	var zero S
	if ss == zero {
		return nil, nil
	}
	window, err := durationOr(ss.GetSlowStartWindow(), 0)
	if err != nil {
		return nil, within("slow_start_window", err)
	}
	out := &SlowStart{Window: window, Aggression: defaultAggression, MinWeightPercent: defaultMinWeightPercent}
	if a := ss.GetAggression(); a != nil {
		if err := runtimeDouble.check(a); err != nil {
			return nil, within("aggression", err)
		}
		if a.GetDefaultValue() <= 0 {
			return nil, errorf("aggression.default_value", "must be above 0")
		}
		out.Aggression = a.GetDefaultValue()
	}
	if p := ss.GetMinWeightPercent(); p != nil {
		out.MinWeightPercent = p.GetValue()
	}
	if window == 0 {
		return nil, nil
	}
	return out, nil
}

// peakEWMAType is the type URL of the peak-EWMA policy's configuration, a
// meshlb extension carried in an xds.type.v3.TypedStruct (Envoy has no
// such policy in its API): fields decay_time and default_rtt, durations
// as in proto JSON ("10s").
const peakEWMAType = "type.googleapis.com/meshlb.load_balancing_policies.peak_ewma.v1.PeakEwma"

// decodePeakEWMA decodes the peak-EWMA configuration from ts's value.
func decodePeakEWMA(ts *xdstypev3.TypedStruct) (*PeakEWMA, error) {
	out := &PeakEWMA{}
	for k, v := range ts.GetValue().GetFields() {
		var dst *time.Duration
		switch k {
		case "decay_time":
			dst = &out.DecayTime
		case "default_rtt":
			dst = &out.DefaultRTT
		default:
			return nil, errorf("value."+k, "not supported")
		}
		d, err := time.ParseDuration(v.GetStringValue())
		if err != nil || d <= 0 {
			return nil, errorf("value."+k, "%q is not a positive duration", v.GetStringValue())
		}
		*dst = d
	}
	return out, nil
}
