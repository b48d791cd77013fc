package balancer

import (
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Plan is how a cluster's picker spreads picks over its endpoints, as
// [BuildLevels] would build it from the endpoints' state now: the
// policy, each priority level's load and panic mode, and the buckets a
// pick draws from (meshlb explain).
type Plan struct {
	Policy string `json:"policy"`
	// Hashing says the policy picks by the request's hash (ring_hash,
	// maglev); the others pick in turn or at random.
	Hashing          bool    `json:"hashing"`
	Overprovisioning uint64  `json:"overprovisioning_factor"`
	PanicThreshold   float64 `json:"panic_threshold"`
	LocalityWeighted bool    `json:"locality_weighted,omitempty"`
	Levels           []Level `json:"levels"`
	// Buckets are what picks draw from, each with its share of them.
	Buckets []Bucket `json:"buckets"`
	// Zone is how zone-aware routing spreads priority 0's healthy picks,
	// when a local cluster is set and the policy routes by zone.
	Zone *ZonePlan `json:"zone,omitempty"`
}

// ZonePlan is the zone-aware routing of a plan (Envoy's locality routing
// state of priority 0).
type ZonePlan struct {
	// State is "direct" (every zone-aware pick stays in the node's
	// locality), "residual" (part of them does, the rest go where the
	// upstream has spare capacity) or "off" (Why says why).
	State    string `json:"state"`
	Why      string `json:"why,omitempty"`
	Locality string `json:"node_locality"`
	// RoutingEnabled is the percentage of picks that are zone aware.
	RoutingEnabled uint64 `json:"routing_enabled"`
	// LocalClusterPanic says the local cluster is in panic: picks ignore
	// zones (or fail, with fail_traffic_on_panic).
	LocalClusterPanic bool           `json:"local_cluster_panic,omitempty"`
	Localities        []ZoneLocality `json:"localities,omitempty"`
}

// ZoneLocality is one upstream locality of a zone plan, with the
// percentages of the local cluster's and the upstream's healthy endpoints
// in it, and of zone-aware picks that go to it.
type ZoneLocality struct {
	Name          string  `json:"name"`
	LocalShare    float64 `json:"local_share"`
	UpstreamShare float64 `json:"upstream_share"`
	Share         float64 `json:"share"`
}

// ExplainZoned is [Explain] with the zone-aware routing [BuildZoned]
// does for z; it counts no statistic.
func ExplainZoned(cfg *spec.Cluster, overprovisioning uint32, endpoints []*cluster.Endpoint, z *cluster.Zone) Plan {
	p := Explain(cfg, overprovisioning, endpoints)
	if zp := planZone(cfg, z, inService(endpoints), nil); zp != nil {
		p.Zone = zp.explain(z.Locality)
	}
	return p
}

// Level is one priority level of a plan.
type Level struct {
	Priority  uint32 `json:"priority"`
	Endpoints int    `json:"endpoints"`
	Healthy   int    `json:"healthy"`
	Degraded  int    `json:"degraded"`
	// HealthyLoad and DegradedLoad are the percentages of traffic the
	// level's healthy and degraded endpoints take.
	HealthyLoad  uint64 `json:"healthy_load"`
	DegradedLoad uint64 `json:"degraded_load"`
	// Panic says the level balances over all its endpoints, usable or not.
	Panic bool `json:"panic"`
}

// Bucket is a set of endpoints one picker balances over.
type Bucket struct {
	Priority uint32 `json:"priority"`
	// Kind is "healthy", "degraded" or "panic" (all the level's endpoints).
	Kind string `json:"kind"`
	// Share is the percentage of picks that come here.
	Share     uint64              `json:"share"`
	Endpoints []*cluster.Endpoint `json:"-"`
}

// Explain returns the plan of the picker BuildLevels builds for cfg,
// overprovisioning and endpoints, from the same code, without building
// it.
func Explain(cfg *spec.Cluster, overprovisioning uint32, endpoints []*cluster.Endpoint) Plan {
	factor := uint64(overprovisioning)
	if factor == 0 {
		factor = DefaultOverprovisioning
	}
	_, hashing := Get(Policy(cfg)).(hasher)
	p := Plan{Policy: Policy(cfg), Hashing: hashing, Overprovisioning: factor, PanicThreshold: cfg.PanicThreshold,
		LocalityWeighted: cfg.LocalityWeighted}
	endpoints = inService(endpoints)
	if len(endpoints) == 0 {
		return p
	}
	lv := levels(endpoints)
	ld := computeLoads(lv, factor, cfg.PanicThreshold)
	for i := range lv {
		l := &lv[i]
		p.Levels = append(p.Levels, Level{Priority: l.all[0].Priority, Endpoints: len(l.all), Healthy: len(l.healthy),
			Degraded: len(l.degraded), HealthyLoad: ld.healthy[i], DegradedLoad: ld.degraded[i], Panic: ld.panic[i]})
	}
	if simple(cfg, endpoints) {
		p.Buckets = []Bucket{{Priority: endpoints[0].Priority, Kind: healthyBucket, Share: 100, Endpoints: endpoints}}
		return p
	}
	for i := range lv {
		eachBucket(&lv[i], ld, i, func(kind string, w uint64, eps, _ []*cluster.Endpoint) {
			if w > 0 && len(eps) > 0 {
				p.Buckets = append(p.Buckets, Bucket{Priority: lv[i].all[0].Priority, Kind: kind, Share: w, Endpoints: eps})
			}
		})
	}
	return p
}

// Peek returns the endpoint p would pick for hash, when that pick is a
// pure function of hash: a hashing policy's picker (its tiers included)
// and a hash other than 0. It reports false for pickers whose pick
// depends on a turn or on chance (round robin, random, least request,
// locality weights), which Peek never advances.
func Peek(p cluster.Picker, hash uint64) (*cluster.Endpoint, bool) {
	if hash == 0 {
		return nil, false
	}
	switch p := p.(type) {
	case none:
		return nil, true
	case *ring:
		return p.Pick(hash), true
	case *maglev:
		return p.Pick(hash), true
	case *tiered:
		return p.peek(hash)
	case *observingTiered:
		return p.peek(hash)
	case *leveled:
		return Peek(p.Picker, hash)
	case *observingLeveled:
		return Peek(p.Picker, hash)
	}
	return nil, false
}

func (t *tiered) peek(hash uint64) (*cluster.Endpoint, bool) {
	if !t.hashing {
		return nil, false
	}
	return Peek(t.pickers[t.split.at(hash%t.split.total())], hash)
}
