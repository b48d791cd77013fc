package config

import (
	xdstypev3 "github.com/cncf/xds/go/xds/type/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	commonlbv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/common/v3"
	leastrequestv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	maglevv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/maglev/v3"
	randomv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/random/v3"
	ringhashv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/ring_hash/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

var (
	lbPolicyFields     = allow(&clusterv3.LoadBalancingPolicy{}, "policies")
	lbPolicyEntry      = allow(&clusterv3.LoadBalancingPolicy_Policy{}, "typed_extension_config")
	rrExtFields        = allow(&roundrobinv3.RoundRobin{}, "slow_start_config", "locality_lb_config")
	lrExtFields        = allow(&leastrequestv3.LeastRequest{}, "choice_count", "active_request_bias", "slow_start_config", "locality_lb_config")
	randomExtFields    = allow(&randomv3.Random{}, "locality_lb_config")
	localityExtFields  = allow(&commonlbv3.LocalityLbConfig{}, "zone_aware_lb_config", "locality_weighted_lb_config")
	zoneAwareExtFields = allow(&commonlbv3.LocalityLbConfig_ZoneAwareLbConfig{},
		"routing_enabled", "min_cluster_size", "fail_traffic_on_panic")
	localityWeightedExtFields = allow(&commonlbv3.LocalityLbConfig_LocalityWeightedLbConfig{})
	ringHashExtFields         = allow(&ringhashv3.RingHash{}, "hash_function", "minimum_ring_size", "maximum_ring_size")
	maglevExtFields           = allow(&maglevv3.Maglev{}, "table_size")
	typedStructFields         = allow(&xdstypev3.TypedStruct{}, "type_url", "value")
	lbExtensionDecoder        = map[string]func(*anypb.Any, *Cluster) error{
		typeURL(&roundrobinv3.RoundRobin{}):     decodeRoundRobinExt,
		typeURL(&leastrequestv3.LeastRequest{}): decodeLeastRequestExt,
		typeURL(&randomv3.Random{}):             decodeRandomExt,
		typeURL(&ringhashv3.RingHash{}):         decodeRingHashExt,
		typeURL(&maglevv3.Maglev{}):             decodeMaglevExt,
		typeURL(&xdstypev3.TypedStruct{}):       decodeTypedStructExt,
	}
)

// decodeLBPolicy decodes load_balancing_policy, the typed-extension form
// of the policy: as Envoy, the first entry of policies whose type is
// supported is used (an unknown type is skipped, a known one with an
// unsupported field is an error). lb_policy must then be unset or
// LOAD_BALANCING_POLICY_CONFIG, and no legacy *_lb_config may be set.
func decodeLBPolicy(c *clusterv3.Cluster, out *Cluster) error {
	lp := c.GetLoadBalancingPolicy()
	if err := lbPolicyFields.check(lp); err != nil {
		return within("load_balancing_policy", err)
	}
	if p := c.GetLbPolicy(); p != clusterv3.Cluster_ROUND_ROBIN && p != clusterv3.Cluster_LOAD_BALANCING_POLICY_CONFIG {
		return errorf("lb_policy", "%s is not allowed with load_balancing_policy", p)
	}
	if c.GetRingHashLbConfig() != nil || c.GetMaglevLbConfig() != nil || c.GetLeastRequestLbConfig() != nil || c.GetRoundRobinLbConfig() != nil {
		return errorf("load_balancing_policy", "not allowed with a *_lb_config field")
	}
	for i, p := range lp.GetPolicies() {
		path := "load_balancing_policy." + index("policies", i)
		if err := lbPolicyEntry.check(p); err != nil {
			return within(path, err)
		}
		tc := p.GetTypedExtensionConfig().GetTypedConfig()
		dec := lbExtensionDecoder[tc.GetTypeUrl()]
		if dec == nil || (tc.GetTypeUrl() == typeURL(&xdstypev3.TypedStruct{}) && !isPeakEWMA(tc)) {
			continue
		}
		if err := dec(tc, out); err != nil {
			return within(path+".typed_extension_config.typed_config", err)
		}
		return nil
	}
	return errorf("load_balancing_policy.policies", "none is supported (round_robin, least_request, random, ring_hash, maglev, and %s in a TypedStruct)", peakEWMAType)
}

func decodeRoundRobinExt(a *anypb.Any, out *Cluster) error {
	m := &roundrobinv3.RoundRobin{}
	if err := unpack(a, m); err != nil {
		return err
	}
	if err := rrExtFields.check(m); err != nil {
		return err
	}
	ss, err := decodeSlowStart(m.GetSlowStartConfig())
	if err != nil {
		return within("slow_start_config", err)
	}
	out.LBPolicy, out.SlowStart = "round_robin", ss
	return decodeLocalityExt(m.GetLocalityLbConfig(), out)
}

// decodeLocalityExt decodes a typed policy's locality_lb_config (nil:
// none) into out: zone-aware routing or locality weighting, as
// common_lb_config's.
func decodeLocalityExt(l *commonlbv3.LocalityLbConfig, out *Cluster) error {
	if l == nil {
		return nil
	}
	if err := localityExtFields.check(l); err != nil {
		return within("locality_lb_config", err)
	}
	if za := l.GetZoneAwareLbConfig(); za != nil {
		if err := zoneAwareExtFields.check(za); err != nil {
			return within("locality_lb_config.zone_aware_lb_config", err)
		}
		out.ZoneAware = zoneAware(za.GetRoutingEnabled(), za.GetMinClusterSize(), za.GetFailTrafficOnPanic())
	}
	if lw := l.GetLocalityWeightedLbConfig(); lw != nil {
		if err := localityWeightedExtFields.check(lw); err != nil {
			return within("locality_lb_config.locality_weighted_lb_config", err)
		}
		out.LocalityWeighted = true
	}
	return nil
}

func decodeLeastRequestExt(a *anypb.Any, out *Cluster) error {
	m := &leastrequestv3.LeastRequest{}
	if err := unpack(a, m); err != nil {
		return err
	}
	if err := lrExtFields.check(m); err != nil {
		return err
	}
	cfg, err := leastRequest(m.GetChoiceCount().GetValue(), m.GetActiveRequestBias())
	if err != nil {
		return err
	}
	ss, err := decodeSlowStart(m.GetSlowStartConfig())
	if err != nil {
		return within("slow_start_config", err)
	}
	out.LBPolicy, out.LeastRequest, out.SlowStart = "least_request", cfg, ss
	return decodeLocalityExt(m.GetLocalityLbConfig(), out)
}

func decodeRandomExt(a *anypb.Any, out *Cluster) error {
	m := &randomv3.Random{}
	if err := unpack(a, m); err != nil {
		return err
	}
	if err := randomExtFields.check(m); err != nil {
		return err
	}
	out.LBPolicy = "random"
	return decodeLocalityExt(m.GetLocalityLbConfig(), out)
}

func decodeRingHashExt(a *anypb.Any, out *Cluster) error {
	m := &ringhashv3.RingHash{}
	if err := unpack(a, m); err != nil {
		return err
	}
	if err := ringHashExtFields.check(m); err != nil {
		return err
	}
	if f := m.GetHashFunction(); f != ringhashv3.RingHash_DEFAULT_HASH && f != ringhashv3.RingHash_XX_HASH {
		return errorf("hash_function", "%s is not supported", f)
	}
	cfg := &RingHash{MinRingSize: m.GetMinimumRingSize().GetValue(), MaxRingSize: m.GetMaximumRingSize().GetValue()}
	if err := checkRingSizes(cfg); err != nil {
		return err
	}
	out.LBPolicy, out.RingHash = "ring_hash", cfg
	return nil
}

func decodeMaglevExt(a *anypb.Any, out *Cluster) error {
	m := &maglevv3.Maglev{}
	if err := unpack(a, m); err != nil {
		return err
	}
	if err := maglevExtFields.check(m); err != nil {
		return err
	}
	if ts := m.GetTableSize(); ts != nil {
		if n := ts.GetValue(); !isPrime(n) || n > 5000011 {
			return errorf("table_size", "%d is not a prime of at most 5000011", n)
		}
		out.MaglevTableSize = ts.GetValue()
	}
	out.LBPolicy = "maglev"
	return nil
}

// isPeakEWMA reports whether a is a TypedStruct carrying the peak-EWMA
// configuration.
func isPeakEWMA(a *anypb.Any) bool {
	ts := &xdstypev3.TypedStruct{}
	return unpack(a, ts) == nil && ts.GetTypeUrl() == peakEWMAType
}

func decodeTypedStructExt(a *anypb.Any, out *Cluster) error {
	ts := &xdstypev3.TypedStruct{}
	if err := unpack(a, ts); err != nil {
		return err
	}
	if err := typedStructFields.check(ts); err != nil {
		return err
	}
	cfg, err := decodePeakEWMA(ts)
	if err != nil {
		return err
	}
	out.LBPolicy, out.PeakEWMA = "peak_ewma", cfg
	return nil
}
