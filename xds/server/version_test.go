package server

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meshlb/meshlb/discovery"
)

// nodeVersions translates every sidecar in cat and returns its version.
func nodeVersions(t *testing.T, cat *discovery.Catalog) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, svc := range cat.Sidecars() {
		snap, err := Translate(cat, svc.Sidecar.ID)
		if err != nil {
			t.Fatalf("Translate(%q): %v", svc.Sidecar.ID, err)
		}
		out[svc.Sidecar.ID] = snapshotVersion(snap)
	}
	return out
}

func TestVersions(t *testing.T) {
	base := nodeVersions(t, testCatalog(t, nil))
	tests := []struct {
		name    string
		edit    func(map[string]*discovery.Service)
		changed []string // nodes whose version must change; the rest must not
	}{
		{name: "equal catalog", edit: nil},
		{name: "endpoint of api changes", edit: func(m map[string]*discovery.Service) {
			m["api"].Endpoints[1].Health = discovery.HealthHealthy
		}, changed: []string{"edge", "web-sidecar"}},
		{name: "weight of db changes", edit: func(m map[string]*discovery.Service) {
			m["db"].Endpoints[0].Weight = 5
		}, changed: []string{"edge", "web-sidecar", "worker"}},
		{name: "unrelated service added", edit: func(m map[string]*discovery.Service) {
			m["cache"] = &discovery.Service{Name: "cache", Endpoints: []discovery.Endpoint{{Address: "10.9.9.9", Port: 6379}}}
		}},
		{name: "endpoints of a service nobody calls change", edit: func(m map[string]*discovery.Service) {
			m["web"].Endpoints[0].Port = 81
		}},
		{name: "worker's local port changes", edit: func(m map[string]*discovery.Service) {
			m["worker"].Sidecar.LocalPort = 7001
		}, changed: []string{"worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nodeVersions(t, testCatalog(t, tt.edit))
			var changed []string
			for node, v := range got {
				if v != base[node] {
					changed = append(changed, node)
				}
			}
			if diff := cmp.Diff(tt.changed, changed, cmpSorted); diff != "" {
				t.Errorf("changed nodes (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpSorted = cmp.Options{
	cmpopts.SortSlices(func(a, b string) bool { return a < b }),
	cmpopts.EquateEmpty(),
}

// TestReplicasAgree checks that a replica that applied a history of
// catalogs (its shared resources and previous snapshots warm) serves the
// same versions, type by type, as one that applied only the last catalog.
func TestReplicasAgree(t *testing.T) {
	history := []*discovery.Catalog{
		testCatalog(t, nil),
		testCatalog(t, func(m map[string]*discovery.Service) { m["api"].Endpoints[0].Port = 8081 }),
		testCatalog(t, func(m map[string]*discovery.Service) {
			m["api"].Endpoints[0].Port = 8081
			m["db"].Endpoints[0].Weight = 4
			withCache(m)
		}),
	}
	warm, cold := New(nil), New(nil)
	for _, c := range history {
		if err := warm.Update(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	if err := cold.Update(t.Context(), history[len(history)-1]); err != nil {
		t.Fatal(err)
	}
	for _, svc := range history[len(history)-1].Sidecars() {
		id := svc.Sidecar.ID
		a, errA := warm.Cache().GetSnapshot(id)
		b, errB := cold.Cache().GetSnapshot(id)
		if errA != nil || errB != nil {
			t.Fatalf("node %q: %v, %v", id, errA, errB)
		}
		for _, typ := range allTypes {
			if va, vb := a.GetVersion(typ), b.GetVersion(typ); va != vb {
				t.Errorf("node %q %s: warm replica %q, cold replica %q", id, typ, va, vb)
			}
		}
	}
}
