package balancer

import (
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// tiered spreads picks over the pickers of several (level, availability)
// buckets by their loads: by the request's hash modulo 100 for the hashing
// policies when there is one (as Envoy's chooseHostSet), else by a smooth
// schedule of 100.
type tiered struct {
	split   *split
	pickers []cluster.Picker
	hashing bool
}

var _ cluster.Picker = (*tiered)(nil)

func (t *tiered) Pick(hash uint64) *cluster.Endpoint {
	if t.hashing && hash != 0 {
		return t.pickers[t.split.at(hash%t.split.total())].Pick(hash)
	}
	return t.pickers[t.split.choose()].Pick(hash)
}

// observingTiered is a tiered picker whose policy learns from outcomes:
// one of its pickers hears them all (the policy's state is per endpoint).
type observingTiered struct {
	tiered
	obs cluster.Observer
}

func (t *observingTiered) Observe(ep *cluster.Endpoint, o cluster.Outcome) { t.obs.Observe(ep, o) }

// hasher is implemented by the builders of policies that pick by the
// request's hash.
type hasher interface{ hashes() }

func (ringHashBuilder) hashes() {}
func (maglevBuilder) hashes()   {}

// buildTiered builds the picker over endpoints (of every priority and
// availability) that spreads traffic as Envoy's priority load, panic mode
// and locality weights do, with b's pickers underneath. factor is the
// overprovisioning factor in percent. Over several levels the picker can
// also skip levels ([cluster.LevelSkipper]), so every level's pickers are
// built, the idle ones too; with a level in panic it reports it
// ([cluster.PanicReporter]).
func buildTiered(b Builder, cfg *spec.Cluster, factor uint64, endpoints []*cluster.Endpoint, zp *zonePlan, st *cluster.ZoneStats) cluster.Picker {
	lv := levels(endpoints)
	ld := computeLoads(lv, factor, cfg.PanicThreshold)
	multi := len(lv) > 1
	tl := make([]tierLevel, len(lv))
	var (
		pickers []cluster.Picker
		weights []uint64
	)
	add := func(w uint64, p cluster.Picker) {
		if w > 0 && p != nil {
			pickers, weights = append(pickers, p), append(weights, w)
		}
	}
	bucket := func(w uint64, eps, all []*cluster.Endpoint) cluster.Picker {
		if (w == 0 && !multi) || len(eps) == 0 {
			return nil
		}
		var p cluster.Picker
		if all != nil && cfg.LocalityWeighted {
			p = buildLocalities(b, cfg, factor, all, eps)
		}
		if p == nil {
			p = b.Build(cfg, eps)
		}
		return p
	}
	for i := range lv {
		l, t := &lv[i], &tl[i]
		t.prio, t.panic = l.all[0].Priority, ld.panic[i]
		t.health, t.degraded = l.availability(factor)
		eachBucket(l, ld, i, func(kind string, w uint64, eps, all []*cluster.Endpoint) {
			var p cluster.Picker
			switch {
			case kind == panicBucket && failsOnPanic(cfg):
				p = none{}
			case kind == healthyBucket && t.prio == 0 && (w > 0 || multi):
				p = zp.picker(b, cfg, eps, st)
			}
			if p == nil {
				p = bucket(w, eps, all)
			}
			switch kind {
			case panicBucket:
				t.all = p
			case healthyBucket:
				t.healthy = p
			default:
				t.degr = p
			}
			add(w, p)
		})
	}
	p := combine(b, pickers, weights)
	var panics uint64
	for i := range tl {
		if tl[i].panic && tl[i].prio < 64 {
			panics |= 1 << tl[i].prio
		}
	}
	if !multi && panics == 0 {
		return p
	}
	_, hashing := b.(hasher)
	return withLevels(p, tl, hashing, panics)
}

// The kinds of buckets a level's endpoints are balanced in.
const (
	panicBucket    = "panic" // all of a level in panic
	healthyBucket  = "healthy"
	degradedBucket = "degraded"
)

// eachBucket calls f with the buckets of level l (index i of ld): all its
// endpoints when it is in panic, else its healthy and its degraded ones
// (all: the level's endpoints, for locality weights), each with its load.
// The tiered picker and [Explain] both split levels with it.
func eachBucket(l *level, ld loads, i int, f func(kind string, w uint64, eps, all []*cluster.Endpoint)) {
	if ld.panic[i] {
		f(panicBucket, ld.healthy[i]+ld.degraded[i], l.all, nil)
		return
	}
	f(healthyBucket, ld.healthy[i], l.healthy, l.all)
	f(degradedBucket, ld.degraded[i], l.degraded, l.all)
}

// combine returns the one picker, or a tiered picker over several.
func combine(b Builder, pickers []cluster.Picker, weights []uint64) cluster.Picker {
	switch len(pickers) {
	case 0:
		return none{}
	case 1:
		return pickers[0]
	}
	_, hashing := b.(hasher)
	t := tiered{split: newSplit(weights), pickers: pickers, hashing: hashing}
	if obs, ok := pickers[0].(cluster.Observer); ok {
		return &observingTiered{tiered: t, obs: obs}
	}
	return &t
}
