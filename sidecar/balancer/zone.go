package balancer

import (
	"math/rand/v2"
	"slices"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Envoy's zone_aware_lb_config defaults.
const (
	defaultRoutingEnabled = 100
	defaultMinClusterSize = 6
)

// zoneBasis is Envoy's scale of locality percentages: 10000 is 100%.
const zoneBasis = 10000

// The states of zone routing, as Envoy's LocalityRoutingState, and the
// reasons it is off.
const (
	zoneDirect   = "direct"   // every zone-aware pick goes to the local zone
	zoneResidual = "residual" // part of them does, the rest by spare capacity
	zoneOff      = "off"
)

// zonePlan is Envoy's locality routing structure of priority 0
// (regenerateLocalityRoutingStructures): the upstream's localities with
// healthy endpoints, the node's first when it has any, and how picks
// spread over them.
type zonePlan struct {
	state  string
	reason string // why zone routing is off
	// localities are the upstream's priority-0 localities, the node's
	// first when hasLocal.
	localities []string
	hasLocal   bool
	// local and upstream are each locality's share (of zoneBasis) of the
	// local cluster's and of the upstream's healthy endpoints.
	local, upstream []uint64
	// localPercent is the share (of zoneBasis) of residual picks that stay
	// in the local zone; residual is each locality's spare capacity.
	localPercent uint64
	residual     []uint64
	localPanic   bool
	enabled      uint64 // routing_enabled, percent
	failOnPanic  bool
}

// zoneAware reports whether policy routes zone aware when a local cluster
// is set: Envoy's round robin, least request and random do (its
// ZoneAwareLoadBalancerBase); the hashing policies do not.
func zoneAware(policy string) bool {
	return policy == RoundRobin || policy == LeastRequest || policy == Random
}

// zoneConfig returns cfg's zone_aware_lb_config, or Envoy's defaults.
func zoneConfig(cfg *spec.Cluster) spec.ZoneAware {
	if cfg.ZoneAware != nil {
		return *cfg.ZoneAware
	}
	return spec.ZoneAware{RoutingEnabled: defaultRoutingEnabled, MinClusterSize: defaultMinClusterSize}
}

// planZone computes the zone plan of endpoints (in service) for z, or
// returns nil when zone routing does not apply at all (no local cluster,
// a hashing policy, locality-weighted balancing, which Envoy prefers). It
// counts lb_recalculate_zone_structures and the reasons Envoy counts when
// routing is off, in st (may be nil).
func planZone(cfg *spec.Cluster, z *cluster.Zone, endpoints []*cluster.Endpoint, st *cluster.ZoneStats) *zonePlan {
	if z == nil || cfg.LocalityWeighted || !zoneAware(Policy(cfg)) {
		return nil
	}
	if st == nil {
		st = new(cluster.ZoneStats)
	}
	st.Recalculate.Add(1)
	zc := zoneConfig(cfg)
	p := &zonePlan{state: zoneOff, enabled: uint64(zc.RoutingEnabled), failOnPanic: zc.FailTrafficOnPanic}
	p0 := slices.DeleteFunc(slices.Clone(endpoints), func(e *cluster.Endpoint) bool { return e.Priority != 0 })
	p.localities, p.hasLocal = localitiesOf(p0, z.Locality)
	local := inService(z.Local)
	switch {
	case len(p.localities) < 2:
		p.reason = "the upstream's priority 0 has fewer than 2 localities"
	case len(distinct(local)) < 2:
		p.reason = "the local cluster has fewer than 2 localities"
	case !slices.ContainsFunc(local, func(e *cluster.Endpoint) bool { return e.Locality == z.Locality }):
		st.LocalClusterNotOK.Add(1)
		p.reason = "the local cluster has no endpoint in the node's locality"
	case uint64(countHealthy(p0)) < zc.MinClusterSize:
		st.ClusterTooSmall.Add(1)
		p.reason = "the upstream has fewer healthy priority-0 endpoints than min_cluster_size"
	default:
		p.route(healthyOf(local), healthyOf(p0))
		p.localPanic = inPanic(&level{all: local, healthy: healthyOf(local), degraded: degradedOf(local)}, cfg.PanicThreshold)
	}
	return p
}

// route fills p's percentages, state and residual capacities from the
// local cluster's and the upstream's healthy endpoints (Envoy's
// calculateLocalityPercentages and the rest of
// regenerateLocalityRoutingStructures).
func (p *zonePlan) route(local, upstream []*cluster.Endpoint) {
	n := len(p.localities)
	p.local, p.upstream, p.residual = make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i, name := range p.localities {
		p.local[i] = share(local, name)
		p.upstream[i] = share(upstream, name)
	}
	if p.hasLocal && p.upstream[0] > 0 && p.upstream[0] >= p.local[0] {
		p.state = zoneDirect
		return
	}
	p.state = zoneResidual
	if p.hasLocal && p.local[0] > 0 {
		p.localPercent = p.upstream[0] * zoneBasis / p.local[0]
	}
	for i := range n {
		if (i > 0 || !p.hasLocal) && p.upstream[i] > p.local[i] {
			p.residual[i] = p.upstream[i] - p.local[i]
		}
	}
}

// share returns the share (of zoneBasis) of eps that are in locality name.
func share(eps []*cluster.Endpoint, name string) uint64 {
	if len(eps) == 0 {
		return 0
	}
	var n uint64
	for _, e := range eps {
		if e.Locality == name {
			n++
		}
	}
	return zoneBasis * n / uint64(len(eps))
}

// localitiesOf returns the localities of eps in order of appearance, with
// mine first (and reported) when one of eps is in it.
func localitiesOf(eps []*cluster.Endpoint, mine string) ([]string, bool) {
	names := distinct(eps)
	i := slices.Index(names, mine)
	if i < 0 {
		return names, false
	}
	return append([]string{mine}, slices.Delete(names, i, i+1)...), true
}

func distinct(eps []*cluster.Endpoint) []string {
	var names []string
	for _, e := range eps {
		if !slices.Contains(names, e.Locality) {
			names = append(names, e.Locality)
		}
	}
	return names
}

func healthyOf(eps []*cluster.Endpoint) []*cluster.Endpoint {
	return slices.DeleteFunc(slices.Clone(eps), func(e *cluster.Endpoint) bool { return e.Availability() != cluster.Available })
}

func degradedOf(eps []*cluster.Endpoint) []*cluster.Endpoint {
	return slices.DeleteFunc(slices.Clone(eps), func(e *cluster.Endpoint) bool { return e.Availability() != cluster.DegradedOnly })
}

func countHealthy(eps []*cluster.Endpoint) int { return len(healthyOf(eps)) }

// zoned is the picker of priority 0's healthy endpoints with zone-aware
// routing (Envoy's hostSourceToUse and tryChooseLocalLocalityHosts): a
// pick goes to the local zone, or to another zone in proportion to its
// spare capacity, then to an endpoint by the policy. Splits stand for
// Envoy's random draws, so shares are exact.
type zoned struct {
	all        cluster.Picker   // priority 0's healthy endpoints, zones ignored
	localities []cluster.Picker // by plan locality; nil: no healthy endpoint
	direct     bool
	hasLocal   bool
	// spill chooses a locality in one draw: the local one by the share
	// that stays, the others by the rest times their spare capacity. Nil
	// when no locality has spare capacity: then stay decides
	// ([stay local, cross zone]; nil: always cross) and a crossing pick
	// goes to a random locality, as Envoy's lb_zone_no_capacity_left.
	spill      *split
	stay       *split
	enabled    uint64
	localPanic bool
	failPanic  bool
	st         *cluster.ZoneStats
}

var _ cluster.Picker = (*zoned)(nil)

func (z *zoned) Pick(hash uint64) *cluster.Endpoint {
	if z.enabled < 100 && rand.Uint64N(100) >= z.enabled {
		return z.all.Pick(hash)
	}
	if z.localPanic {
		z.st.LocalClusterNotOK.Add(1)
		if z.failPanic {
			return nil
		}
		return z.all.Pick(hash)
	}
	p := z.localities[z.choose()]
	if p == nil {
		return z.all.Pick(hash)
	}
	return p.Pick(hash)
}

// choose returns the index of the locality of the next pick, counting it.
func (z *zoned) choose() int {
	switch {
	case z.direct:
		z.st.RoutingAllDirectly.Add(1)
		return 0
	case z.spill != nil:
		i := z.spill.choose()
		if i == 0 && z.hasLocal {
			z.st.RoutingSampled.Add(1)
		} else {
			z.st.RoutingCrossZone.Add(1)
		}
		return i
	case z.stay != nil && z.stay.choose() == 0:
		z.st.RoutingSampled.Add(1)
		return 0
	}
	z.st.RoutingCrossZone.Add(1)
	z.st.NoCapacityLeft.Add(1)
	return rand.IntN(len(z.localities))
}

// picker returns the zone-aware picker over healthy, priority 0's healthy
// endpoints, with b's pickers, or nil when the plan routes by zone no
// pick.
func (p *zonePlan) picker(b Builder, cfg *spec.Cluster, healthy []*cluster.Endpoint, st *cluster.ZoneStats) cluster.Picker {
	if p == nil || p.state == zoneOff || len(healthy) == 0 {
		return nil
	}
	if st == nil {
		st = new(cluster.ZoneStats)
	}
	z := &zoned{all: b.Build(cfg, healthy), direct: p.state == zoneDirect, hasLocal: p.hasLocal,
		enabled: p.enabled, localPanic: p.localPanic, failPanic: p.failOnPanic, st: st}
	for _, name := range p.localities {
		g := slices.DeleteFunc(slices.Clone(healthy), func(e *cluster.Endpoint) bool { return e.Locality != name })
		var lp cluster.Picker
		if len(g) > 0 {
			lp = b.Build(cfg, g)
		}
		z.localities = append(z.localities, lp)
	}
	stay := min(p.localPercent, zoneBasis)
	var spare uint64
	for _, r := range p.residual {
		spare += r
	}
	if spare > 0 {
		// Envoy draws twice (stay, then a locality by spare capacity);
		// one draw over the products gives the same shares.
		w := make([]uint64, len(p.residual))
		for i, r := range p.residual {
			w[i] = (zoneBasis - stay) * r
		}
		if p.hasLocal {
			w[0] += stay * spare
		}
		z.spill = newSplit(w)
	} else if stay > 0 {
		z.stay = newSplit([]uint64{stay, zoneBasis - stay})
	}
	return z
}

// explain renders the plan for meshlb explain.
func (p *zonePlan) explain(locality string) *ZonePlan {
	out := &ZonePlan{State: p.state, Why: p.reason, Locality: locality, RoutingEnabled: p.enabled,
		LocalClusterPanic: p.localPanic}
	if p.state == zoneOff {
		return out
	}
	var total uint64
	for _, r := range p.residual {
		total += r
	}
	stay := float64(min(p.localPercent, zoneBasis)) / 100
	for i, name := range p.localities {
		l := ZoneLocality{Name: name, LocalShare: float64(p.local[i]) / 100, UpstreamShare: float64(p.upstream[i]) / 100}
		switch {
		case p.state == zoneDirect:
			if i == 0 {
				l.Share = 100
			}
		case total == 0:
			l.Share = (100 - stay) / float64(len(p.localities))
		default:
			l.Share = (100 - stay) * float64(p.residual[i]) / float64(total)
		}
		if i == 0 && p.state == zoneResidual && p.hasLocal {
			l.Share += stay
		}
		out.Localities = append(out.Localities, l)
	}
	return out
}
