package consul

import (
	"log/slog"

	"github.com/meshlb/meshlb/discovery"
)

// newCatalog validates services into a catalog. A sidecar that fails
// validation on its own (colliding ports, bad addresses) is dropped with a
// log rather than failing the whole catalog, so one bad registration
// cannot freeze the mesh.
func newCatalog(services []discovery.Service, mesh discovery.Mesh, logger *slog.Logger) (*discovery.Catalog, error) {
	cat, err := discovery.NewMesh(services, mesh)
	if err == nil {
		return cat, nil
	}
	kept := services[:0:0]
	for _, s := range services {
		if s.Sidecar == nil {
			kept = append(kept, s)
			continue
		}
		if err := validateAlone(s); err != nil {
			logger.Warn("skipping invalid connect-proxy", "id", s.Sidecar.ID, "err", err)
			continue
		}
		kept = append(kept, s)
	}
	return discovery.NewMesh(kept, mesh)
}

// validateAlone validates s with empty stand-ins for its upstreams.
func validateAlone(s discovery.Service) error {
	all := []discovery.Service{s}
	seen := map[string]bool{s.Name: true}
	for _, u := range s.Sidecar.Upstreams {
		if !seen[u.Service] {
			seen[u.Service] = true
			all = append(all, discovery.Service{Name: u.Service})
		}
	}
	_, err := discovery.New(all)
	return err
}
