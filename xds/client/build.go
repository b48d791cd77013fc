package client

import (
	"cmp"
	"maps"
	"slices"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// build returns the Set the data plane serves for s: the static resources
// merged with the active dynamic ones (a dynamic listener or cluster replaces
// a static one of the same name), the route configurations and load
// assignments they refer to, and a renderer of the config dump of the
// dynamic resources, which runs only when the dump is asked for (rendering
// 10,000 resources takes seconds) and keeps its result.
//
// A reference to a route configuration or load assignment the client does
// not have (possible only for a static resource, or an active one whose
// dependency the server removed) gets an empty one: no virtual hosts, no
// endpoints, as Envoy serves it.
//
// SDS secrets a listener or cluster names are resolved into a copy of it
// (see [spec.TLSCommon.WithSecrets]), so the data plane sees certificates
// only; a secret's new version makes a new copy.
//
// It also returns a fingerprint of the Set: the decoded specs it is made of,
// in a fixed order. Unchanged resources keep their spec (see [decode]), so
// equal fingerprints mean equal Sets.
//
// cache holds what the last build made of the listeners and clusters; a
// kind whose generation did not change (an update of endpoints leaves
// 5,000 clusters as they were) is taken from it, sorted and merged.
func (s *state) build(static *config.Set, cache *buildCache) (*config.Set, []any) {
	if !cache.ok || cache.gen != [2]uint64{s.gen[kindListener], s.gen[kindCluster]} {
		if !cache.ok || cache.gen[0] != s.gen[kindListener] {
			cache.ls = sortedValues(s.active[kindListener])
			cache.listeners = mergeStatic(static.Listeners, cache.ls, func(l *config.Listener) string { return l.Name })
			for i := range cache.listeners {
				cache.listeners[i] = *cache.listeners[i].WithSecrets(s.secret)
			}
		}
		if !cache.ok || cache.gen[1] != s.gen[kindCluster] {
			cache.cs = sortedValues(s.active[kindCluster])
			cache.clusters = mergeStatic(static.Clusters, cache.cs, func(c *config.Cluster) string { return c.Name })
			for i := range cache.clusters {
				cache.clusters[i] = *cache.clusters[i].WithSecrets(s.secret)
			}
		}
		cache.ok, cache.gen = true, [2]uint64{s.gen[kindListener], s.gen[kindCluster]}
	}
	ls, cs := cache.ls, cache.cs
	set := &config.Set{
		Listeners: cache.listeners,
		Clusters:  cache.clusters,
		Routes:    maps.Clone(static.Routes),
		Endpoints: maps.Clone(static.Endpoints),
	}
	if set.Routes == nil {
		set.Routes = map[string]*config.RouteConfig{}
	}
	if set.Endpoints == nil {
		set.Endpoints = map[string]*config.LoadAssignment{}
	}
	var rs, es []*resource
	for i := range set.Listeners {
		for _, name := range set.Listeners[i].RDSNames() {
			if rc := resolve(name, s.res[kindRoute], set.Routes, &rs, emptyRoutes); rc != nil {
				set.Routes[name] = rc
			}
		}
	}
	for i := range set.Clusters {
		name := edsName(&set.Clusters[i])
		if la := resolve(name, s.res[kindEndpoint], set.Endpoints, &es, emptyEndpoints); la != nil {
			set.Endpoints[name] = la
		}
	}
	var fp []any
	for _, group := range [][]*resource{ls, cs, rs, es, sortedValues(s.res[kindSecret])} {
		for _, r := range group {
			fp = append(fp, r.spec)
		}
	}
	set.Dumper = sync.OnceValues(func() ([]byte, error) {
		return config.Dump(protos[*listenerv3.Listener](ls), protos[*routev3.RouteConfiguration](rs),
			protos[*clusterv3.Cluster](cs), protos[*endpointv3.ClusterLoadAssignment](es))
	})
	return set, fp
}

// buildCache is what [state.build] keeps from one build to the next: the
// sorted active listeners and clusters and their merge with the static
// ones, for the generations of listeners and clusters (see
// [state.invalidate]) they were made from. The merged slices are shared
// by the Sets built from them, which never modify them.
type buildCache struct {
	ok        bool
	gen       [2]uint64 // listeners, clusters
	ls, cs    []*resource
	listeners []config.Listener
	clusters  []config.Cluster
}

// resolve returns the spec to store under name in have, or nil for none:
// the dynamic resource if there is one (appended to used the first time),
// else nothing if have holds a static one, else empty(name).
func resolve[T *config.RouteConfig | *config.LoadAssignment](name string, dyn map[string]*resource,
	have map[string]T, used *[]*resource, empty func(string) T) T {
	if name == "" {
		return nil
	}
	if r := dyn[name]; r != nil {
		spec := r.spec.(T)
		if have[name] != spec {
			*used = append(*used, r)
		}
		return spec
	}
	if _, ok := have[name]; ok {
		return nil
	}
	return empty(name)
}

// secret returns the received secret of that name, or nil.
func (s *state) secret(name string) *spec.Secret {
	if r := s.res[kindSecret][name]; r != nil {
		return r.spec.(*spec.Secret)
	}
	return nil
}

func emptyRoutes(name string) *config.RouteConfig { return &config.RouteConfig{Name: name} }

func emptyEndpoints(name string) *config.LoadAssignment {
	return &config.LoadAssignment{ClusterName: name}
}

// mergeStatic returns the dynamic specs (dyn, sorted by name) and the static
// ones not replaced by a dynamic one of the same name, sorted by name.
func mergeStatic[T any](static []T, dyn []*resource, name func(*T) string) []T {
	out := make([]T, 0, len(static)+len(dyn))
	seen := make(map[string]bool, len(dyn))
	for _, r := range dyn {
		seen[r.name] = true
		out = append(out, *r.spec.(*T))
	}
	for i := range static {
		if !seen[name(&static[i])] {
			out = append(out, static[i])
		}
	}
	byName := func(a, b T) int { return cmp.Compare(name(&a), name(&b)) }
	if len(static) > 0 {
		slices.SortStableFunc(out, byName)
	}
	return out
}

// sortedValues returns m's resources sorted by name.
func sortedValues(m map[string]*resource) []*resource {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b *resource) int { return cmp.Compare(a.name, b.name) })
	return out
}

// protos returns the messages of rs, which must all be of type M.
func protos[M any](rs []*resource) []M {
	out := make([]M, len(rs))
	for i, r := range rs {
		out[i] = r.msg.(M)
	}
	return out
}
