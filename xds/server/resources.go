package server

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/meshlb/meshlb/discovery"
)

// The resource types of a node's snapshot, in the order they are listed.
const (
	cdsType = iota
	edsType
	ldsType
	rdsType
	numTypes
)

// typeURLs maps the types above to their type URLs.
var typeURLs = [numTypes]string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType}

// resources is one node's xDS resources by type, and what building them
// needs.
type resources struct {
	cat        *discovery.Catalog
	frags      *fragments      // shared across nodes; nil builds afresh
	clusterSet map[string]bool // names of the clusters added
	byType     [numTypes][]*fragment
}

// add builds (or takes from r.frags) the resource of type typ under key,
// built from the catalog services deps, and adds it to the node.
func (r *resources) add(typ int, key string, deps []serviceVersion, build func() (types.Resource, error)) error {
	f, err := r.frags.get(key, deps, build)
	if err != nil {
		return err
	}
	r.byType[typ] = append(r.byType[typ], f)
	return nil
}

// snapshot returns the node's snapshot, resources sorted by name. Each type
// has its own version, a hash of its resources' names and hashes, so a
// state-of-the-world push after a change sends only the types that
// changed; the per-resource hashes are the delta version map, so
// go-control-plane does not marshal the snapshot again to build it.
func (r *resources) snapshot() (*cache.Snapshot, error) {
	snap := &cache.Snapshot{VersionMap: make(map[string]map[string]string, numTypes)}
	for typ, frags := range r.byType {
		slices.SortFunc(frags, func(a, b *fragment) int { return cmp.Compare(a.name, b.name) })
		url := typeURLs[typ]
		items := make(map[string]types.ResourceWithTTL, len(frags))
		versions := make(map[string]string, len(frags))
		h := sha256.New()
		h.Write([]byte(url))
		for _, f := range frags {
			if _, dup := items[f.name]; dup {
				return nil, fmt.Errorf("duplicate %s %q", url, f.name)
			}
			items[f.name] = types.ResourceWithTTL{Resource: f.res}
			versions[f.name] = f.hash
			h.Write([]byte{0})
			h.Write([]byte(f.name))
			h.Write([]byte{0})
			h.Write([]byte(f.hash))
		}
		snap.Resources[cache.GetResponseType(url)] = cache.Resources{
			Version: hex.EncodeToString(h.Sum(nil)[:8]), Items: items}
		snap.VersionMap[url] = versions
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("checking consistency: %w", err)
	}
	return snap, nil
}

// snapshotVersion joins the versions of every type of snap; equal
// snapshots give equal strings.
func snapshotVersion(snap *cache.Snapshot) string {
	var b []byte
	for i, url := range typeURLs {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, snap.GetVersion(url)...)
	}
	return string(b)
}
