package sidecar

import (
	"slices"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// SetZone turns on zone-aware routing, as Envoy's
// cluster_manager.local_cluster_name does: locality is the node's
// ("region/zone/sub_zone"), localCluster names the cluster of the
// sidecar's own service ("" for none). It must be called before the first
// Apply.
func (s *Sidecar) SetZone(locality, localCluster string) {
	s.locality, s.localCluster = locality, localCluster
}

// buildLocal builds the local cluster of set into snap first, and returns
// the zone the other clusters route by and the local cluster's index in
// set.Clusters; nil and -1 when there is no local cluster. The local
// cluster itself balances without zones.
func (s *Sidecar) buildLocal(set *spec.Set, prev, snap *Snapshot) (*cluster.Zone, int, error) {
	if s.localCluster == "" {
		return nil, -1, nil
	}
	i := slices.IndexFunc(set.Clusters, func(c spec.Cluster) bool { return c.Name == s.localCluster })
	if i < 0 {
		return nil, -1, nil
	}
	c, err := s.cluster(&set.Clusters[i], set, prev, snap, nil)
	if err != nil {
		return nil, -1, err
	}
	snap.Clusters[c.Name] = c
	return &cluster.Zone{Locality: s.locality, Local: c.Endpoints}, i, nil
}

// sameZone reports whether two clusters route by the same zone: the same
// node locality over the same local endpoints.
func sameZone(a, b *cluster.Zone) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Locality == b.Locality && len(a.Local) == len(b.Local) &&
		(len(a.Local) == 0 || &a.Local[0] == &b.Local[0])
}

// followLocal has the local cluster's runtime rebuild the pickers of the
// zone-aware clusters of snap whenever it rebuilds its own, so a change of
// the local endpoints' health reaches them as Envoy's local priority set
// updates do.
func (s *Sidecar) followLocal(snap *Snapshot) {
	local := snap.Clusters[s.localCluster]
	if local == nil || local.Runtime == nil {
		return
	}
	var rs []*cluster.Runtime
	for _, c := range snap.Clusters {
		if c.Zone != nil && c.Runtime != nil && c != local {
			rs = append(rs, c.Runtime)
		}
	}
	local.Runtime.SetFollowers(rs)
}
