package client

import (
	"maps"
	"slices"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/config"
)

// state is the client's view of the xDS resources: per kind, the resources
// it ACKed (res), and for listeners and clusters the versions the data plane
// serves (active), which lag res while a newer version is warming.
//
// A state is not modified once committed: each response is merged into a
// [state.clone], so a NACK or a failed Apply drops the clone and the last
// good state stays as it was.
type state struct {
	res     [numKinds]map[string]*resource
	version [numKinds]string // SotW: last ACKed version_info
	seen    [numKinds]bool   // a response of this kind was accepted
	// active is used for kindListener and kindCluster only.
	active [numKinds]map[string]*resource
	// want caches [state.wanted] for kindRoute, kindEndpoint and
	// kindSecret while wantOK; a change to the listeners (clusters) clears
	// it for routes (endpoints) and secrets. The cache is shared with
	// clones, never modified.
	want   [numKinds][]string
	wantOK [numKinds]bool
	// pruned is true while res[k] holds only wanted names (kindRoute,
	// kindEndpoint, kindSecret); invalidate clears it as it clears wantOK.
	pruned [numKinds]bool
	// gen identifies the listeners and clusters (res and active) of
	// kindListener and kindCluster: it takes a new value from generations
	// whenever they change, so that two states with the same gen[k] hold
	// the same ones (see buildCache).
	gen [numKinds]uint64
}

// generations numbers the changes of listeners and clusters across all
// states.
var generations atomic.Uint64

func newState() *state {
	s := new(state)
	for k := range numKinds {
		s.res[k] = map[string]*resource{}
		s.active[k] = map[string]*resource{}
	}
	return s
}

// clone returns a copy of s whose maps can be changed without touching s.
func (s *state) clone() *state {
	n := *s
	for k := range numKinds {
		n.res[k] = maps.Clone(s.res[k])
		n.active[k] = maps.Clone(s.active[k])
	}
	return &n
}

// settle applies warming and drops what is no longer subscribed:
//   - an EDS cluster becomes active once its load assignment has arrived, a
//     listener once the route configuration it names over RDS has, and
//     either once the SDS secrets its TLS names have; until then the
//     previous active version, if any, stays active;
//   - a listener or cluster removed by the server is removed at once;
//   - route configurations, load assignments and secrets nothing refers to
//     any more are dropped, as they are unsubscribed.
func (s *state) settle(static *config.Set) {
	var changed bool
	s.active[kindCluster], changed = promote(s.res[kindCluster], s.active[kindCluster], func(r *resource) bool {
		c := r.spec.(*config.Cluster)
		name := edsName(c)
		return (name == "" || s.res[kindEndpoint][name] != nil || static.Endpoints[name] != nil) && s.hasSecrets(c.SecretNames())
	})
	if changed {
		s.invalidate(kindCluster)
	}
	s.active[kindListener], changed = promote(s.res[kindListener], s.active[kindListener], func(r *resource) bool {
		for _, name := range r.spec.(*config.Listener).RDSNames() {
			if s.res[kindRoute][name] == nil && static.Routes[name] == nil {
				return false
			}
		}
		return s.hasSecrets(r.spec.(*config.Listener).SecretNames())
	})
	if changed {
		s.invalidate(kindListener)
	}
	for _, k := range []kind{kindRoute, kindEndpoint, kindSecret} {
		if s.pruned[k] {
			// Nothing that refers to kind k changed since it was last
			// pruned, and merge only adds wanted names.
			continue
		}
		s.pruned[k] = true
		want := s.wanted(k, static)
		maps.DeleteFunc(s.res[k], func(name string, _ *resource) bool {
			_, ok := slices.BinarySearch(want, name)
			return !ok
		})
	}
}

// hasSecrets reports whether s has received every secret of names.
func (s *state) hasSecrets(names []string) bool {
	for _, name := range names {
		if s.res[kindSecret][name] == nil {
			return false
		}
	}
	return true
}

// warming reports whether a received listener or cluster is not active at
// its received version.
func (s *state) warming() bool {
	for _, k := range []kind{kindListener, kindCluster} {
		for name, r := range s.res[k] {
			if s.active[k][name] != r {
				return true
			}
		}
	}
	return false
}

// promote returns the new active set: each received resource that is ready,
// or else the previously active version of it; and whether it differs
// from prev.
func promote(received, prev map[string]*resource, ready func(*resource) bool) (map[string]*resource, bool) {
	out := make(map[string]*resource, len(received))
	changed := false
	for name, r := range received {
		if prev[name] != r && !ready(r) {
			r = prev[name]
		}
		if r != nil {
			out[name] = r
			changed = changed || prev[name] != r
		}
	}
	return out, changed || len(out) != len(prev)
}

// invalidate records that the listeners or clusters (k) changed, so the
// names they refer to must be computed again.
func (s *state) invalidate(k kind) {
	switch k {
	case kindListener:
		s.wantOK[kindRoute], s.pruned[kindRoute] = false, false
		s.wantOK[kindSecret], s.pruned[kindSecret] = false, false
	case kindCluster:
		s.wantOK[kindEndpoint], s.pruned[kindEndpoint] = false, false
		s.wantOK[kindSecret], s.pruned[kindSecret] = false, false
	case kindSecret:
		// Listeners and clusters are built with their secrets resolved.
		s.gen[kindListener], s.gen[kindCluster] = generations.Add(1), generations.Add(1)
		return
	default:
		return
	}
	s.gen[k] = generations.Add(1)
}

// wanted returns the sorted names of kind k (kindRoute, kindEndpoint or
// kindSecret) the
// client subscribes to: those the static, received and active listeners
// (or clusters) refer to.
func (s *state) wanted(k kind, static *config.Set) []string {
	if !s.wantOK[k] {
		s.want[k], s.wantOK[k] = s.computeWanted(k, static), true
	}
	return s.want[k]
}

// computeWanted computes [state.wanted].
func (s *state) computeWanted(k kind, static *config.Set) []string {
	set := map[string]bool{}
	switch k {
	case kindRoute:
		for i := range static.Listeners {
			for _, name := range static.Listeners[i].RDSNames() {
				set[name] = true
			}
		}
		for _, m := range []map[string]*resource{s.res[kindListener], s.active[kindListener]} {
			for _, r := range m {
				for _, name := range r.spec.(*config.Listener).RDSNames() {
					set[name] = true
				}
			}
		}
	case kindEndpoint:
		for i := range static.Clusters {
			set[edsName(&static.Clusters[i])] = true
		}
		for _, m := range []map[string]*resource{s.res[kindCluster], s.active[kindCluster]} {
			for _, r := range m {
				set[edsName(r.spec.(*config.Cluster))] = true
			}
		}
	case kindSecret:
		for i := range static.Listeners {
			addAll(set, static.Listeners[i].SecretNames())
		}
		for i := range static.Clusters {
			addAll(set, static.Clusters[i].SecretNames())
		}
		for _, m := range []map[string]*resource{s.res[kindListener], s.active[kindListener]} {
			for _, r := range m {
				addAll(set, r.spec.(*config.Listener).SecretNames())
			}
		}
		for _, m := range []map[string]*resource{s.res[kindCluster], s.active[kindCluster]} {
			for _, r := range m {
				addAll(set, r.spec.(*config.Cluster).SecretNames())
			}
		}
	}
	delete(set, "")
	return slices.Sorted(maps.Keys(set))
}

// merge stores fresh resources of kind k in s: for LDS and CDS in
// state-of-the-world (replace) they are the whole set; otherwise they are
// added to what s has. Route configurations and load assignments that are
// not subscribed are ignored.
func (s *state) merge(k kind, fresh map[string]*resource, replace bool, static *config.Set) {
	s.invalidate(k)
	if replace {
		s.res[k] = fresh
		return
	}
	filter := k == kindRoute || k == kindEndpoint || k == kindSecret
	want := s.wanted(k, static)
	for name, r := range fresh {
		if s.res[k][name] == r {
			continue
		}
		if _, ok := slices.BinarySearch(want, name); ok || !filter {
			s.res[k][name] = r
		}
	}
}

// edsName is the load assignment c fetches over EDS, or "".
func edsName(c *config.Cluster) string {
	if c.Type != config.DiscoveryEDS {
		return ""
	}
	if c.EDSName == "" {
		return c.Name
	}
	return c.EDSName
}

func addAll(set map[string]bool, names []string) {
	for _, n := range names {
		set[n] = true
	}
}
