package sidecar

import (
	"fmt"
	"testing"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/config"
)

// zoned returns a cluster of endpoints in localities: per locality, n
// addresses from addr.
func zonedCluster(name string, addr func(zone string) string, zones map[string]int) config.Cluster {
	cl := staticCluster(name)
	for _, z := range []string{"a", "b"} {
		for range zones[z] {
			cl.Static.Endpoints = append(cl.Static.Endpoints, config.Endpoint{Address: addr(z), Weight: 1, Locality: "r/" + z + "/"})
		}
	}
	return cl
}

// TestZoneAwareRouting serves requests through a real listener with
// cluster_manager.local_cluster_name set: the upstream has 2 backends in
// the node's zone a and 4 in zone b. The local cluster's share of zone a
// decides how many requests stay in a, as Envoy's zone-aware routing: 2/3
// of the local hosts in a (1/3 of the upstream's) keeps half in a; a new
// local cluster with 1/3 in a sends all to a; an operator draining a local
// host (a health change, no new config) is followed at once.
func TestZoneAwareRouting(t *testing.T) {
	s := newSidecar(t)
	s.SetZone("r/a/", "self")
	be := zonedCluster("be", func(z string) string { return named(t, z) }, map[string]int{"a": 2, "b": 4})
	local := func(a, b int) config.Cluster {
		n := 0
		return zonedCluster("self", func(string) string { n++; return fmt.Sprintf("10.9.9.%d:80", n) }, map[string]int{"a": a, "b": b})
	}
	addr := freeAddr(t)
	apply := func(self config.Cluster) {
		t.Helper()
		set := &config.Set{Listeners: []config.Listener{httpListener("web", addr, "be")}, Clusters: []config.Cluster{be, self}}
		if err := s.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient()
	defer c.CloseIdleConnections()
	inA := func() int {
		t.Helper()
		n := 0
		for range 300 {
			if _, body, _ := do(t, c, "http://"+addr); body == "a" {
				n++
			}
		}
		return (100*n + 150) / 300
	}
	check := func(what string, want int) {
		t.Helper()
		if got := inA(); got < want-2 || got > want+2 {
			t.Errorf("%s: %d%% of requests in zone a, want %d%% ± 2", what, got, want)
		}
	}
	apply(local(2, 1))
	check("local 2/3 in a, upstream 1/3", 50)
	st := &stats(s, "be").Zone
	if st.RoutingSampled.Load() != 150 || st.RoutingCrossZone.Load() != 150 {
		t.Errorf("lb_zone_routing_sampled = %d, cross_zone = %d, want 150 and 150", st.RoutingSampled.Load(), st.RoutingCrossZone.Load())
	}
	apply(local(1, 2))
	check("local 1/3 in a, as the upstream", 100)
	if got := st.RoutingAllDirectly.Load(); got != 300 {
		t.Errorf("lb_zone_routing_all_directly = %d, want 300", got)
	}
	apply(local(2, 1))
	self := s.Snapshot().Clusters["self"]
	self.Endpoints[0].State.Admin.Store(uint32(cluster.AdminDrain))
	self.Runtime.Rebuild()
	check("a local host of a drained: local a 1/2, upstream 1/3", 67)
	if got := st.Recalculate.Load(); got != 4 {
		t.Errorf("lb_recalculate_zone_structures = %d, want 4 (one per build put in force)", got)
	}
}
