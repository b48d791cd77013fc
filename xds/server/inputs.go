package server

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/meshlb/meshlb/discovery"
)

// inputVersion returns a hash of the versions of every catalog service the
// snapshot of svc's sidecar is built from: svc itself, the service of each
// upstream, the destinations of its routes, and the failover services of
// all of those (see [buildResources]). Equal input versions give equal
// snapshots, so [Server.Update] skips translating a node whose inputs did
// not change: a change to one service retranslates only the nodes that
// reach it. In a mesh with mTLS, the mesh (intentions), the roots and the
// node's own leaf count too; they change every node's snapshot.
func inputVersion(cat *discovery.Catalog, svc *discovery.Service) string {
	h := sha256.New()
	seen := make(map[string]bool)
	// add hashes name's version once, and returns the service every time:
	// a service reached first as a destination may later be an upstream,
	// whose routes then count too.
	add := func(name string) *discovery.Service {
		if !seen[name] {
			seen[name] = true
			h.Write([]byte(name))
			h.Write([]byte{0})
			h.Write([]byte(cat.ServiceVersion(name)))
			h.Write([]byte{0})
		}
		s, _ := cat.Service(name)
		return s
	}
	withFailover := func(name string) *discovery.Service {
		s := add(name)
		if s != nil {
			for _, f := range s.Failover {
				add(f)
			}
		}
		return s
	}
	add(svc.Name)
	if cat.Mesh().Enabled() {
		sec := cat.Secrets()
		for _, v := range []string{cat.MeshVersion(), sec.RootsVersion(), sec.LeafVersion(svc.SidecarIdentity())} {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
	}
	for _, u := range svc.Sidecar.Upstreams {
		up := withFailover(u.Service)
		if up == nil {
			continue
		}
		for _, r := range up.Routes {
			for _, d := range r.Destinations {
				withFailover(d.Service)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
