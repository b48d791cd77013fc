// Package balancer holds the load-balancing policies. Each policy is a
// [Builder] registered by name in init; the data plane builds one
// [cluster.Picker] per cluster per snapshot, off the request path, and
// installs it in the cluster's [cluster.Runtime] when the snapshot is
// published. A picker that also implements [cluster.Observer] receives the
// outcome of every attempt on the endpoints it picked.
package balancer

import (
	"slices"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Builder builds pickers for one policy.
type Builder interface {
	// Name is the policy's name as it appears in config.LBPolicy.
	Name() string
	// Build returns a picker over endpoints, all of one priority and
	// usable (in panic mode, all of a priority's endpoints), configured by the cluster's spec cfg (the policy's
	// fields are read from it; cfg must not be modified or kept past Build
	// unless copied). endpoints is never empty and must not be modified.
	Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker
}

var registry = map[string]Builder{}

// Register adds b to the registry. It must be called only from init
// functions; a second builder with the same name replaces the first.
func Register(b Builder) { registry[b.Name()] = b }

// Get returns the builder registered under name, or nil.
func Get(name string) Builder { return registry[name] }

// Names returns the registered policy names, sorted.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Build is [BuildLevels] with Envoy's default overprovisioning factor.
func Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	return BuildLevels(cfg, 0, endpoints)
}

// BuildLevels returns the picker for endpoints (every endpoint of the
// cluster, usable or not), using the policy cfg names (round robin when
// none) within Envoy's priority levels: each level takes traffic in
// proportion to its healthy share times overprovisioning (percent; 0
// means [DefaultOverprovisioning]), spilling the rest to the next level;
// degraded endpoints take what healthy ones cannot; a level below
// cfg.PanicThreshold balances over all its endpoints; with
// cfg.LocalityWeighted a locality is picked first. The picker returns nil
// when nothing may be picked. BuildLevels panics if the policy is not
// registered, which the config layer rules out.
func BuildLevels(cfg *spec.Cluster, overprovisioning uint32, endpoints []*cluster.Endpoint) cluster.Picker {
	return BuildZoned(cfg, overprovisioning, endpoints, nil, nil)
}

// BuildZoned is [BuildLevels] with Envoy's zone-aware routing when z is
// not nil: for round_robin, least_request and random without locality
// weights, priority 0's healthy picks prefer the node's locality as far
// as the upstream's share of endpoints there allows, given the local
// cluster's share, and spill the rest to localities with spare capacity.
// The routing structures are computed here, once per build (on membership
// and health changes), counting st (nil: not counted), which the picks
// count in too.
func BuildZoned(cfg *spec.Cluster, overprovisioning uint32, endpoints []*cluster.Endpoint, z *cluster.Zone, st *cluster.ZoneStats) cluster.Picker {
	policy := Policy(cfg)
	b := Get(policy)
	if b == nil {
		panic("balancer: unregistered policy " + policy)
	}
	endpoints = inService(endpoints)
	if len(endpoints) == 0 {
		return none{}
	}
	zp := planZone(cfg, z, endpoints, st)
	if simple(cfg, endpoints) && !failsOnPanic(cfg) {
		if zsp := zp.picker(b, cfg, endpoints, st); zsp != nil {
			return zsp
		}
		return b.Build(cfg, endpoints)
	}
	factor := uint64(overprovisioning)
	if factor == 0 {
		factor = DefaultOverprovisioning
	}
	return buildTiered(b, cfg, factor, endpoints, zp, st)
}

// inService returns the endpoints no operator drained or disabled, as
// HAProxy's drain and maint: such an endpoint is out of the cluster's
// host set, so it takes no traffic even in panic mode and does not count
// in its level's health. It returns endpoints itself when none is held.
func inService(endpoints []*cluster.Endpoint) []*cluster.Endpoint {
	held := func(e *cluster.Endpoint) bool { return e.State.Admin.Load() != uint32(cluster.AdminReady) }
	if !slices.ContainsFunc(endpoints, held) {
		return endpoints
	}
	return slices.DeleteFunc(slices.Clone(endpoints), held)
}

// failsOnPanic reports whether a level in panic takes no traffic
// (zone_aware_lb_config.fail_traffic_on_panic, for the policies that route
// zone aware).
func failsOnPanic(cfg *spec.Cluster) bool {
	return cfg.ZoneAware != nil && cfg.ZoneAware.FailTrafficOnPanic && zoneAware(Policy(cfg))
}

// simple reports whether the policy alone balances endpoints: one
// priority, all healthy, no locality weighting.
func simple(cfg *spec.Cluster, endpoints []*cluster.Endpoint) bool {
	if cfg.LocalityWeighted {
		return false
	}
	for _, e := range endpoints {
		if e.Priority != endpoints[0].Priority || e.Availability() != cluster.Available {
			return false
		}
	}
	return true
}

// Policy returns the name of cfg's policy: its LBPolicy, or RoundRobin
// (Envoy's default).
func Policy(cfg *spec.Cluster) string {
	if cfg.LBPolicy == "" {
		return RoundRobin
	}
	return string(cfg.LBPolicy)
}

type none struct{}

func (none) Pick(uint64) *cluster.Endpoint { return nil }

var _ cluster.Picker = none{}

func equalWeights(endpoints []*cluster.Endpoint) bool {
	for _, e := range endpoints[1:] {
		if e.Weight != endpoints[0].Weight {
			return false
		}
	}
	return true
}
