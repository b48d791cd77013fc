package cluster

import (
	"sync"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// MaxWeightOverride bounds an operator's weight, so that the sums the
// balancers take over a cluster cannot overflow.
const MaxWeightOverride = 1 << 20

// weights are a cluster's operator weights (HAProxy's "set server <b>/<s>
// weight", which Envoy lacks), kept in its [Runtime] across snapshots.
// They are read when a picker is built, never on the request path.
type weights struct {
	mu sync.Mutex // not the Runtime's: Rebuild holds that while building
	m  map[*State]weightOverride
}

// weightOverride holds while the endpoint is still as EDS described it
// when the operator set it.
type weightOverride struct {
	base   edsView
	weight uint32
}

// edsView is what EDS says of an endpoint; an update that changes it ends
// an operator's weight.
type edsView struct {
	weight, priority, localityWeight uint32
	health                           spec.HealthStatus
	locality                         string
}

func viewOf(e *Endpoint) edsView {
	return edsView{e.Weight, e.Priority, e.LocalityWeight, e.Health, e.Locality}
}

// SetWeight makes w (1 to [MaxWeightOverride]) the weight of e, an
// endpoint of the cluster's snapshot in force, in the pickers built from
// now on, until a configuration changes what EDS says of e (its weight,
// health, priority or locality). Call [Runtime.Rebuild] to put it in
// force at once.
func (r *Runtime) SetWeight(e *Endpoint, w uint32) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if r.w.m == nil {
		r.w.m = map[*State]weightOverride{}
	}
	r.w.m[e.State] = weightOverride{viewOf(e), w}
}

// Weight returns the weight e takes in the cluster's balancing, and
// whether an operator's override sets it.
func (r *Runtime) Weight(e *Endpoint) (uint32, bool) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if o, ok := r.w.m[e.State]; ok && o.base == viewOf(e) {
		return o.weight, true
	}
	return e.Weight, false
}

// Weighted returns endpoints as the balancer must see them: endpoints
// itself when no operator weight applies, else a copy in which each
// overridden endpoint is a copy with the operator's weight. An override
// whose endpoint EDS has changed since, or which endpoints no longer
// holds, is forgotten. endpoints must be a snapshot's whole list.
func (r *Runtime) Weighted(endpoints []*Endpoint) []*Endpoint {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if len(r.w.m) == 0 {
		return endpoints
	}
	out := endpoints
	seen := 0
	for i, e := range endpoints {
		o, ok := r.w.m[e.State]
		if !ok {
			continue
		}
		seen++
		if o.base != viewOf(e) {
			delete(r.w.m, e.State)
			continue
		}
		if &out[0] == &endpoints[0] {
			out = append([]*Endpoint(nil), endpoints...)
		}
		c := *e
		c.Weight = o.weight
		out[i] = &c
	}
	if seen < len(r.w.m) {
		r.forgetGone(endpoints)
	}
	return out
}

// forgetGone drops the overrides of endpoints no longer in endpoints;
// r.w.mu is held.
func (r *Runtime) forgetGone(endpoints []*Endpoint) {
	in := make(map[*State]bool, len(endpoints))
	for _, e := range endpoints {
		in[e.State] = true
	}
	for s := range r.w.m {
		if !in[s] {
			delete(r.w.m, s)
		}
	}
}
