package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// The resource types of a node's snapshot, in the order they are listed.
const (
	cdsType = iota
	edsType
	ldsType
	rdsType
	sdsType
	numTypes
)

// typeURLs maps the types above to their type URLs.
var typeURLs = [numTypes]string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType, resource.SecretType}

// resources is one node's xDS resources by type, and what building them
// needs.
type resources struct {
	cat        *reads          // the catalog, recording what is read
	frags      *fragments      // shared across nodes; nil builds afresh
	clusterSet map[string]bool // names of the clusters added
	// meshClusters are the clusters added that reach mesh sidecars over
	// mTLS, in order.
	meshClusters []string
	rbac         bool // intentions become RBAC filters
	byType       [numTypes][]*fragment
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

// snapshot returns the node's snapshot. Each type has its own version, a
// hash of its resources' hashes (see [typeVersion]), so a
// state-of-the-world push after a change sends only the types that
// changed; the per-resource hashes are the delta version map, so
// go-control-plane does not marshal the snapshot again to build it.
//
// A type whose version equals its version in prev, the node's previous
// snapshot (nil if none), is taken from prev as is: an endpoint change
// swaps the node's endpoints and shares everything else. Consistency is
// checked unless only endpoints changed and their names did not.
func (r *resources) snapshot(prev *cache.Snapshot) (*cache.Snapshot, error) {
	snap := &cache.Snapshot{VersionMap: make(map[string]map[string]string, numTypes)}
	check := prev == nil
	for typ, frags := range r.byType {
		url := typeURLs[typ]
		i := cache.GetResponseType(url)
		version := typeVersion(url, frags)
		if prev != nil && prev.Resources[i].Version == version {
			snap.Resources[i], snap.VersionMap[url] = prev.Resources[i], prev.VersionMap[url]
			continue
		}
		res, versions, err := group(url, version, frags)
		if err != nil {
			return nil, err
		}
		snap.Resources[i], snap.VersionMap[url] = res, versions
		check = check || typ != edsType || !sameNames(res.Items, prev.Resources[i].Items)
	}
	if check {
		if err := snap.Consistent(); err != nil {
			return nil, fmt.Errorf("checking consistency: %w", err)
		}
	}
	return snap, nil
}

// typeVersion returns the version of one type's resources: a hash of the
// type URL, their count, and the sum and xor of their hashes' first 64
// bits. It is independent of order (names within a type are unique, and
// a resource's hash covers its name), so it needs no sort and hashes 24
// bytes whatever the number of resources.
func typeVersion(url string, frags []*fragment) string {
	var sum, xor uint64
	for _, f := range frags {
		sum += f.prefix
		xor ^= f.prefix
	}
	h := sha256.New()
	h.Write([]byte(url))
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], uint64(len(frags)))
	binary.BigEndian.PutUint64(b[8:], sum)
	binary.BigEndian.PutUint64(b[16:], xor)
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// group returns frags as one type's resources at version, and their delta
// version map.
func group(url, version string, frags []*fragment) (cache.Resources, map[string]string, error) {
	items := make(map[string]types.ResourceWithTTL, len(frags))
	versions := make(map[string]string, len(frags))
	for _, f := range frags {
		if _, dup := items[f.name]; dup {
			return cache.Resources{}, nil, fmt.Errorf("duplicate %s %q", url, f.name)
		}
		items[f.name] = types.ResourceWithTTL{Resource: f.res}
		versions[f.name] = f.hash
	}
	return cache.Resources{Version: version, Items: items}, versions, nil
}

// sameNames reports whether a and b hold the same names.
func sameNames(a, b map[string]types.ResourceWithTTL) bool {
	if len(a) != len(b) {
		return false
	}
	for name := range a {
		if _, ok := b[name]; !ok {
			return false
		}
	}
	return true
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
