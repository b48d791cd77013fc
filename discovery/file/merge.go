package file

import (
	"fmt"

	"github.com/meshlb/meshlb/discovery"
)

// fileDecl is one parsed services file: its services and where their names,
// sidecar ids and upstream references are. It is not modified once parsed,
// so a watch keeps it until the file changes.
type fileDecl struct {
	name     string
	rootLine int
	services []discovery.Service
	names    map[string]claim
	ids      map[string]claim
	refs     []ref
	// mesh and intentions are the file's "mesh:" and "intentions:"
	// sections, if any.
	mesh           *meshDecl
	intentions     []discovery.Intention
	intentionsLine int
}

// merge builds one catalog from files, in order: a service name or a
// sidecar id declared in two files, or an upstream naming a service no file
// declares, is an error at "file:line: path:" that also names the first
// declaration's file and line.
func merge(files []*fileDecl) (*discovery.Catalog, error) {
	names := map[string]*fileClaim{}
	ids := map[string]*fileClaim{}
	var services []discovery.Service
	for _, f := range files {
		for _, s := range f.services {
			if err := claimIn(names, f, s.Name, f.names[s.Name], "duplicate service name %[1]q (first at %[2]s:%[3]d)"); err != nil {
				return nil, err
			}
			if s.Sidecar != nil {
				id := sidecarID(s)
				if err := claimIn(ids, f, id, f.ids[id], "%[1]q is also used by service %[4]q (%[2]s:%[3]d)"); err != nil {
					return nil, err
				}
			}
		}
		services = append(services, f.services...)
	}
	for _, f := range files {
		for _, r := range f.refs {
			if _, ok := names[r.service]; !ok {
				return nil, &lineError{file: f.name, line: r.line, path: r.path, msg: fmt.Sprintf("unknown service %q", clip(r.service))}
			}
		}
	}
	mesh, err := mergeMesh(files)
	if err != nil {
		return nil, err
	}
	if mesh.Enabled() {
		meshIdentities(services)
	}
	c, err := discovery.NewMesh(services, mesh)
	if err != nil {
		// Unreachable while the walk and the merge check everything New
		// checks; kept so that a rule added to New cannot be skipped.
		f := files[0]
		return nil, &lineError{file: f.name, line: f.rootLine, msg: "invalid catalog: " + err.Error(), err: err}
	}
	return c, nil
}

// fileClaim is a claim and the file it is in.
type fileClaim struct {
	file string
	claim
}

// claimIn records key, claimed by c in file f, in seen, or returns an error
// if another file claimed it first. format gets the key, the first file,
// its line and its service.
func claimIn(seen map[string]*fileClaim, f *fileDecl, key string, c claim, format string) error {
	if first, dup := seen[key]; dup {
		return &lineError{file: f.name, line: c.line, path: c.path,
			msg: fmt.Sprintf(format, clip(key), first.file, first.line, clip(first.service))}
	}
	seen[key] = &fileClaim{file: f.name, claim: c}
	return nil
}

// sidecarID is the node id of s's sidecar: its id, or the service name.
func sidecarID(s discovery.Service) string {
	if s.Sidecar.ID != "" {
		return s.Sidecar.ID
	}
	return s.Name
}

// mergeMesh returns the mesh of files: the one "mesh:" section (a second
// is an error) and every file's intentions, in order. Intentions without
// a mesh section are an error: they are enforced over mTLS only.
func mergeMesh(files []*fileDecl) (discovery.Mesh, error) {
	var mesh *meshDecl
	var meshFile string
	var intentions []discovery.Intention
	for _, f := range files {
		if f.mesh != nil {
			if mesh != nil {
				return discovery.Mesh{}, &lineError{file: f.name, line: f.mesh.line, path: "mesh",
					msg: fmt.Sprintf("a second mesh section (first at %s:%d)", meshFile, mesh.line)}
			}
			mesh, meshFile = f.mesh, f.name
		}
		intentions = append(intentions, f.intentions...)
	}
	if mesh == nil {
		for _, f := range files {
			if len(f.intentions) > 0 {
				return discovery.Mesh{}, &lineError{file: f.name, line: f.intentionsLine, path: "intentions",
					msg: "intentions need a mesh section: they are enforced on mTLS identities"}
			}
		}
		return discovery.Mesh{}, nil
	}
	m := mesh.mesh
	m.Intentions = intentions
	return m, nil
}

// meshIdentities marks every service whose sidecar has a public
// (inbound) listener as reached over mTLS: its endpoints are taken to be
// its sidecars' public listeners, presenting the service's certificate.
func meshIdentities(services []discovery.Service) {
	for i := range services {
		s := &services[i]
		if s.Sidecar != nil && s.Sidecar.InboundPort != 0 {
			s.Identity = s.SidecarIdentity()
		}
	}
}
