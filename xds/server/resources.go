package server

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/meshlb/meshlb/discovery"
)

// resources is one node's xDS resources by type, and what building them
// needs.
type resources struct {
	cat        *discovery.Catalog
	clusterSet map[string]bool // names of the clusters added

	clusters  []types.Resource
	endpoints []types.Resource
	listeners []types.Resource
	routes    []types.Resource
}

// group is the resources of one type.
type group struct {
	typeURL string
	items   *[]types.Resource
}

// groups returns the resource types in a fixed order (CDS, EDS, LDS, RDS),
// the order in which they are hashed.
func (r *resources) groups() [4]group {
	return [4]group{
		{resource.ClusterType, &r.clusters},
		{resource.EndpointType, &r.endpoints},
		{resource.ListenerType, &r.listeners},
		{resource.RouteType, &r.routes},
	}
}

// sort sorts every type's resources by name, so output and hash are stable.
func (r *resources) sort() {
	for _, g := range r.groups() {
		slices.SortFunc(*g.items, func(a, b types.Resource) int {
			return cmp.Compare(cache.GetResourceName(a), cache.GetResourceName(b))
		})
	}
}

// validate runs the generated ValidateAll of every resource.
func (r *resources) validate() error {
	type validator interface{ ValidateAll() error }
	for _, g := range r.groups() {
		for _, res := range *g.items {
			v, ok := res.(validator)
			if !ok {
				return fmt.Errorf("validating %T: no ValidateAll method", res)
			}
			if err := v.ValidateAll(); err != nil {
				return fmt.Errorf("validating %q: %w", cache.GetResourceName(res), err)
			}
		}
	}
	return nil
}

// byType returns the resources keyed by type URL for [cache.NewSnapshot].
// Every type is present, even when empty, so each has a version and a
// client's first request for it is answered.
func (r *resources) byType() map[resource.Type][]types.Resource {
	out := make(map[resource.Type][]types.Resource, 4)
	for _, g := range r.groups() {
		out[g.typeURL] = *g.items
	}
	return out
}

// version returns the first 16 hex digits of a SHA-256 over the type URL
// and deterministic proto encoding of every resource, in groups order. Equal
// resources give equal versions on every replica built from the same protos.
func (r *resources) version() (string, error) {
	h := sha256.New()
	var buf []byte
	for _, g := range r.groups() {
		for _, res := range *g.items {
			b, err := cache.MarshalResource(res)
			if err != nil {
				return "", fmt.Errorf("hashing %q: %w", cache.GetResourceName(res), err)
			}
			buf = append(buf[:0], g.typeURL...)
			buf = binary.AppendUvarint(buf, uint64(len(b)))
			h.Write(buf)
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}
