package sidecar

import (
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// An update costs what changed, not the whole configuration (issue 8,
// point 9): a cluster whose spec and load assignment are those of the
// previous snapshot keeps its *cluster.Cluster (endpoints, picker), a route
// table whose route configuration and clusters are unchanged is kept, and
// endpoint states are released by reference count rather than by a sweep
// of every address. Decoders keep the identity of unchanged resources (the
// xDS client reuses the decoded spec of a resource whose bytes did not
// change), which is what makes the pointer comparisons below hold.

// clusterSource is what a running cluster was built from: its spec (in
// the snapshot's Set, immutable) and load assignment.
type clusterSource struct {
	spec *spec.Cluster
	la   *spec.LoadAssignment
}

// sameCluster reports whether two cluster specs are equal. spec.Cluster is
// a comparable struct of scalars and pointers to immutable values.
func sameCluster(a, b *spec.Cluster) bool { return *a == *b }

// loadAssignment returns the endpoints cs serves from set, or nil.
func loadAssignment(cs *spec.Cluster, set *spec.Set) *spec.LoadAssignment {
	if cs.Type == spec.DiscoveryEDS {
		return set.Endpoints[edsName(cs)]
	}
	return cs.Static
}

// cluster returns the running cluster for cs in snap: prev's, if it was
// built from the same spec and load assignment, else a new one. It records
// the source in snap. A zone-aware cluster is rebuilt when the local
// cluster is.
func (s *Sidecar) cluster(cs *spec.Cluster, set *spec.Set, prev, snap *Snapshot, zone *cluster.Zone) (*cluster.Cluster, error) {
	la := loadAssignment(cs, set)
	if snap.sources == nil {
		snap.sources = make(map[string]clusterSource, len(set.Clusters))
	}
	snap.sources[cs.Name] = clusterSource{spec: cs, la: la}
	if prev != nil {
		if src, ok := prev.sources[cs.Name]; ok && src.la == la && (src.spec == cs || sameCluster(src.spec, cs)) {
			if c := prev.Clusters[cs.Name]; c != nil && sameZone(c.Zone, zone) {
				return c, nil
			}
		}
	}
	return s.buildCluster(cs, set, zone)
}

// compiledTable is a route table and the clusters it was compiled
// against.
type compiledTable struct {
	table *route.Table
	deps  map[string]*cluster.Cluster
}

// routeTable returns the route table of rc over clusters: the one the last
// applied build compiled, if rc and every cluster it names are the same,
// else a new one. Tables of this build are kept for the next one.
func (s *Sidecar) routeTable(rc *spec.RouteConfig, clusters map[string]*cluster.Cluster) (*route.Table, error) {
	if t, ok := s.building.tables[rc]; ok {
		return t.table, nil
	}
	if t, ok := s.tables[rc]; ok && sameDeps(t.deps, clusters) {
		s.building.tables[rc] = t
		return t.table, nil
	}
	deps := map[string]*cluster.Cluster{}
	table, err := route.Compile(rc, func(name string) *cluster.Cluster {
		c := clusters[name]
		deps[name] = c
		return c
	})
	if err != nil {
		return nil, err
	}
	s.building.tables[rc] = compiledTable{table: table, deps: deps}
	return table, nil
}

func sameDeps(deps, clusters map[string]*cluster.Cluster) bool {
	for name, c := range deps {
		if clusters[name] != c {
			return false
		}
	}
	return true
}

// buildState is what a build leaves for the next one once applied.
type buildState struct {
	tables map[*spec.RouteConfig]compiledTable
}

// startBuild resets the state a build collects.
func (s *Sidecar) startBuild() {
	s.building = buildState{tables: map[*spec.RouteConfig]compiledTable{}}
}

// abortBuild drops what a failed build collected, and the endpoint states
// it created that no applied cluster uses.
func (s *Sidecar) abortBuild() {
	s.building = buildState{}
	if cur := s.current.Load(); cur != nil {
		s.registry.Retain(cur.Clusters)
	} else {
		s.registry.Retain(nil)
	}
}

// commitBuild keeps what the applied build compiled, and releases the
// endpoint states and cluster runtimes nothing in snap uses any more: the
// endpoints of the clusters snap replaced or dropped are counted down,
// those of its new clusters up.
func (s *Sidecar) commitBuild(prev, snap *Snapshot) {
	s.tables = s.building.tables
	s.building = buildState{}
	if s.stateRefs == nil {
		s.stateRefs = map[*cluster.State]int{}
	}
	for name, c := range snap.Clusters {
		if prev == nil || prev.Clusters[name] != c {
			for _, e := range c.Endpoints {
				s.stateRefs[e.State]++
			}
		}
	}
	if prev == nil {
		return
	}
	var gone []*cluster.State
	var dropped []string
	for name, c := range prev.Clusters {
		if snap.Clusters[name] == c {
			continue
		}
		if snap.Clusters[name] == nil {
			dropped = append(dropped, name)
		}
		for _, e := range c.Endpoints {
			if s.stateRefs[e.State]--; s.stateRefs[e.State] <= 0 {
				delete(s.stateRefs, e.State)
				gone = append(gone, e.State)
			}
		}
	}
	s.registry.Forget(gone, dropped)
}
