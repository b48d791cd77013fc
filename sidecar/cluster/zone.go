package cluster

import "sync/atomic"

// ZoneStats are Envoy's zone-aware routing counters of a cluster
// (cluster.<name>.lb_*). Envoy also declares lb_zone_number_differs, which
// it no longer counts since it matches localities by name; so does meshlb.
type ZoneStats struct {
	// RoutingAllDirectly counts picks sent to the local zone because it has
	// enough capacity for all of them (lb_zone_routing_all_directly).
	RoutingAllDirectly atomic.Uint64
	// RoutingSampled counts picks sent to the local zone by sampling, when
	// it can take only part of them (lb_zone_routing_sampled).
	RoutingSampled atomic.Uint64
	// RoutingCrossZone counts picks sent to another zone
	// (lb_zone_routing_cross_zone).
	RoutingCrossZone atomic.Uint64
	// NoCapacityLeft counts cross-zone picks made at random because no
	// zone had capacity left, after rounding (lb_zone_no_capacity_left).
	NoCapacityLeft atomic.Uint64
	// LocalClusterNotOK counts builds whose local cluster has no endpoint
	// in the node's zone, and picks made while it is in panic
	// (lb_local_cluster_not_ok).
	LocalClusterNotOK atomic.Uint64
	// ClusterTooSmall counts builds with fewer healthy priority-0
	// endpoints than min_cluster_size (lb_zone_cluster_too_small).
	ClusterTooSmall atomic.Uint64
	// Recalculate counts the builds of the zone routing structures
	// (lb_recalculate_zone_structures).
	Recalculate atomic.Uint64
}

// SetFollowers makes every [Runtime.Rebuild] of r rebuild rs too, after
// r: their pickers read r's endpoints' health (zone-aware routing reads
// the local cluster's). It replaces the previous followers; nil for none.
// It must not be called on the request path.
func (r *Runtime) SetFollowers(rs []*Runtime) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.followers = rs
}

// rebuildFollowers rebuilds the followers of r, which must not be locked.
func (r *Runtime) rebuildFollowers() {
	r.mu.Lock()
	fs := r.followers
	r.mu.Unlock()
	for _, f := range fs {
		if f != r {
			f.rebuildOnly()
		}
	}
}

// Zone is what zone-aware routing reads besides an upstream cluster's own
// endpoints (Envoy's local priority set): the node's locality and the
// endpoints of the local cluster, whose health is read when a picker is
// built. It is immutable.
type Zone struct {
	// Locality is the node's locality, in the form of [Endpoint].Locality.
	Locality string
	// Local lists the local cluster's endpoints.
	Local []*Endpoint
}
