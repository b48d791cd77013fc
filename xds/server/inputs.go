package server

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/meshlb/meshlb/discovery"
)

// reads is what one node's translation read from the catalog: the services
// it looked up, found or not, and whether it read the mesh (intentions) and
// the secrets. A translation reads the catalog only through its reads, so
// the record is complete by construction: the server keeps each node's
// reads with its snapshot and retranslates the node exactly when the
// version of its reads in a new catalog ([inputs.version]) changes. A
// change to one service retranslates only the nodes that read it.
type reads struct {
	cat      *discovery.Catalog
	identity string // the node's own, whose leaf certificate it reads
	services map[string]bool
	mesh     bool
	secrets  bool
}

// newReads starts the record of a translation of svc's sidecar from cat;
// svc itself (which the caller took from cat.Sidecars) is read.
func newReads(cat *discovery.Catalog, svc *discovery.Service) *reads {
	r := &reads{cat: cat, identity: svc.SidecarIdentity(), services: map[string]bool{}}
	r.services[svc.Name] = true
	return r
}

// Service looks up a service, as [discovery.Catalog.Service].
func (r *reads) Service(name string) (*discovery.Service, bool) {
	r.services[name] = true
	return r.cat.Service(name)
}

// ServiceVersion is [discovery.Catalog.ServiceVersion].
func (r *reads) ServiceVersion(name string) string {
	r.services[name] = true
	return r.cat.ServiceVersion(name)
}

// Mesh is [discovery.Catalog.Mesh].
func (r *reads) Mesh() *discovery.Mesh {
	r.mesh = true
	return r.cat.Mesh()
}

// MeshVersion is [discovery.Catalog.MeshVersion].
func (r *reads) MeshVersion() string {
	r.mesh = true
	return r.cat.MeshVersion()
}

// Secrets is [discovery.Catalog.Secrets]; the node reads the roots and its
// own leaf from them.
func (r *reads) Secrets() *discovery.Secrets {
	r.secrets = true
	return r.cat.Secrets()
}

// inputs is the record of a finished translation, without the catalog.
type inputs struct {
	services []string // sorted
	identity string
	mesh     bool
	secrets  bool
}

// done ends the record.
func (r *reads) done() inputs {
	names := make([]string, 0, len(r.services))
	for n := range r.services {
		names = append(names, n)
	}
	slices.Sort(names)
	return inputs{services: names, identity: r.identity, mesh: r.mesh, secrets: r.secrets}
}

// version returns a hash of the versions in cat of what in records: equal
// versions give equal snapshots, so [Server.Update] skips the node.
func (in inputs) version(cat *discovery.Catalog) string {
	h := sha256.New()
	put := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, n := range in.services {
		put(n)
		put(cat.ServiceVersion(n))
	}
	if in.mesh {
		put(cat.MeshVersion())
	}
	if in.secrets {
		sec := cat.Secrets()
		put(sec.RootsVersion())
		put(sec.LeafVersion(in.identity))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
