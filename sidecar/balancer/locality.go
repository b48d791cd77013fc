package balancer

import (
	"slices"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// byLocality picks a locality by its effective weight, then an endpoint
// of it with the locality's picker (Envoy's locality-weighted balancing).
type byLocality struct {
	split   *split
	pickers []cluster.Picker
}

var _ cluster.Picker = (*byLocality)(nil)

func (l *byLocality) Pick(hash uint64) *cluster.Endpoint {
	return l.pickers[l.split.choose()].Pick(hash)
}

// buildLocalities returns a picker over eligible (the healthy, or the
// degraded, endpoints of the level whose endpoints are all) that picks each locality in
// proportion to its load_balancing_weight times its availability (its
// eligible share of its endpoints, overprovisioned by factor percent and
// capped at 1), as Envoy's effectiveLocalityWeight. It returns nil when no
// locality has an effective weight; the caller then balances over all of
// eligible, as Envoy does.
func buildLocalities(b Builder, cfg *spec.Cluster, factor uint64, all, eligible []*cluster.Endpoint) cluster.Picker {
	var (
		names   []string
		groups  [][]*cluster.Endpoint
		weights []uint64
	)
	for _, e := range eligible {
		i := slices.Index(names, e.Locality)
		if i < 0 {
			names, groups, weights = append(names, e.Locality), append(groups, nil), append(weights, uint64(e.LocalityWeight))
			i = len(names) - 1
		}
		groups[i] = append(groups[i], e)
	}
	var (
		pickers []cluster.Picker
		eff     []uint64
	)
	for i, g := range groups {
		w := weights[i] * min(100, factor*uint64(len(g))/localitySize(all, names[i]))
		if w > 0 {
			pickers, eff = append(pickers, b.Build(cfg, g)), append(eff, w)
		}
	}
	switch len(pickers) {
	case 0:
		return nil
	case 1:
		return pickers[0]
	}
	return &byLocality{split: newSplit(eff), pickers: pickers}
}

// localitySize returns how many of all are in locality name.
func localitySize(all []*cluster.Endpoint, name string) uint64 {
	var n uint64
	for _, e := range all {
		if e.Locality == name {
			n++
		}
	}
	return n
}
