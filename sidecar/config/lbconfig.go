package config

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
)

// defaultPanicThreshold is Envoy's healthy_panic_threshold, in percent.
const defaultPanicThreshold = 50

var (
	// zone_aware_lb_config is not implemented: a cluster setting it is
	// rejected naming the field.
	commonLBFields   = allow(&clusterv3.Cluster_CommonLbConfig{}, "healthy_panic_threshold", "locality_weighted_lb_config")
	localityLBFields = allow(&clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{})
)

// decodeCommonLB sets out's panic threshold (Envoy's default 50% when
// unset; a present Percent with no value, as Consul sends, is 0: panic
// mode off) and locality weighting from common_lb_config.
func decodeCommonLB(c *clusterv3.Cluster, out *Cluster) error {
	out.PanicThreshold = defaultPanicThreshold
	cl := c.GetCommonLbConfig()
	if cl == nil {
		return nil
	}
	if err := commonLBFields.check(cl); err != nil {
		return within("common_lb_config", err)
	}
	if p := cl.GetHealthyPanicThreshold(); p != nil {
		out.PanicThreshold = p.GetValue()
	}
	if lw := cl.GetLocalityWeightedLbConfig(); lw != nil {
		if err := localityLBFields.check(lw); err != nil {
			return within("common_lb_config.locality_weighted_lb_config", err)
		}
		if out.LBPolicy == "ring_hash" || out.LBPolicy == "maglev" {
			return errorf("common_lb_config.locality_weighted_lb_config", "not supported with lb_policy %s", out.LBPolicy)
		}
		out.LocalityWeighted = true
	}
	return nil
}
