package config

import (
	"math"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// defaultPanicThreshold is Envoy's healthy_panic_threshold, in percent.
const defaultPanicThreshold = 50

var (
	commonLBFields = allow(&clusterv3.Cluster_CommonLbConfig{}, "healthy_panic_threshold", "locality_weighted_lb_config",
		"zone_aware_lb_config")
	localityLBFields  = allow(&clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{})
	zoneAwareLBFields = allow(&clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{},
		"routing_enabled", "min_cluster_size", "fail_traffic_on_panic")
)

// Envoy's zone_aware_lb_config defaults.
const (
	defaultZoneRoutingEnabled = 100
	defaultMinClusterSize     = 6
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
	if za := cl.GetZoneAwareLbConfig(); za != nil {
		if err := zoneAwareLBFields.check(za); err != nil {
			return within("common_lb_config.zone_aware_lb_config", err)
		}
		out.ZoneAware = decodeZoneAware(za)
	}
	return nil
}

// decodeZoneAware decodes zone_aware_lb_config with Envoy's defaults:
// routing_enabled 100% (rounded to a whole percent, as Envoy's
// PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT), min_cluster_size 6.
// It applies with a local cluster (cluster_manager.local_cluster_name) to
// round_robin, least_request and random; Envoy accepts and ignores it for
// the hashing policies, and so does meshlb.
func decodeZoneAware(za *clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig) *ZoneAware {
	return zoneAware(za.GetRoutingEnabled(), za.GetMinClusterSize(), za.GetFailTrafficOnPanic())
}

// zoneAware is a zone_aware_lb_config's fields with Envoy's defaults
// (see [decodeZoneAware]); the typed policies' locality_lb_config has the
// same.
func zoneAware(routing *typev3.Percent, minSize *wrapperspb.UInt64Value, failOnPanic bool) *ZoneAware {
	out := &ZoneAware{RoutingEnabled: defaultZoneRoutingEnabled, MinClusterSize: defaultMinClusterSize,
		FailTrafficOnPanic: failOnPanic}
	if routing != nil {
		out.RoutingEnabled = uint32(math.Round(min(100, max(0, routing.GetValue()))))
	}
	if minSize != nil {
		out.MinClusterSize = minSize.GetValue()
	}
	return out
}
