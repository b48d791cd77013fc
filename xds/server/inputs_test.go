package server

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/discovery"
)

// TestUpdateSkipsOnlyUnchangedInputs updates a server from one catalog to
// an edited one and checks that every node ends with the snapshot a fresh
// server computes from the edited catalog: skipping nodes by input version
// never leaves one stale.
func TestUpdateSkipsOnlyUnchangedInputs(t *testing.T) {
	base := func() []discovery.Service { return routingCatalog(t).Services() }
	find := func(svcs []discovery.Service, name string) *discovery.Service {
		for i := range svcs {
			if svcs[i].Name == name {
				return &svcs[i]
			}
		}
		t.Fatalf("no service %q", name)
		return nil
	}
	type edit = func([]discovery.Service) []discovery.Service
	port := func(name string, p int) edit {
		return func(s []discovery.Service) []discovery.Service {
			find(s, name).Endpoints = []discovery.Endpoint{{Address: "10.9.9.9", Port: p}}
			return s
		}
	}
	tests := []struct {
		name    string
		edit    edit
		changed bool // whether client's snapshot changes
	}{
		{"upstream endpoint", port("web", 99), true},
		{"route destination endpoint", port("web~v2", 99), true},
		{"failover endpoint", port("web-dc2", 99), true},
		{"redirect target endpoint", port("db-primary", 99), true},
		{"route removed", func(s []discovery.Service) []discovery.Service {
			find(s, "web").Routes = nil
			return s
		}, true},
		{"unrelated service added", func(s []discovery.Service) []discovery.Service {
			return append(s, discovery.Service{Name: "other", Endpoints: []discovery.Endpoint{{Address: "10.0.0.9", Port: 1}}})
		}, false},
		{"nothing", func(s []discovery.Service) []discovery.Service { return s }, false},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := base()
			for i := range edited {
				edited[i].Routes = append([]discovery.Route(nil), edited[i].Routes...)
			}
			edited = tt.edit(edited)
			cat0, cat1 := routingCatalog(t), mustCatalog(t, edited)
			inc, fresh := New(nil), New(nil)
			for _, step := range []struct {
				s   *Server
				cat *discovery.Catalog
			}{{inc, cat0}, {inc, cat1}, {fresh, cat1}} {
				if err := step.s.Update(ctx, step.cat); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(fresh.nodes, inc.nodes); diff != "" {
				t.Errorf("node versions after an incremental update (-fresh +incremental):\n%s", diff)
			}
			before := New(nil)
			before.Update(ctx, cat0)
			if got := before.nodes["client"] != inc.nodes["client"]; got != tt.changed {
				t.Errorf("client snapshot changed = %v, want %v", got, tt.changed)
			}
		})
	}
}

// TestReadsRecordTheServicesTranslated checks what a node's translation
// records as read: its own service, its upstreams, their route
// destinations and failovers, and the mesh, not the other services of the
// catalog; so an edit to any of them, and only to them, retranslates it.
func TestReadsRecordTheServicesTranslated(t *testing.T) {
	cat := routingCatalog(t)
	var client *discovery.Service
	for _, svc := range cat.Sidecars() {
		if svc.Sidecar.ID == "client" {
			client = svc
		}
	}
	if client == nil {
		t.Fatal("no sidecar client in the routing catalog")
	}
	_, in, err := translateService(cat, client, nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	want := inputs{services: []string{"admin", "client", "db", "db-primary", "web", "web-dc2", "web~v1", "web~v2"},
		identity: "client", mesh: true}
	if diff := cmp.Diff(want, in, cmp.AllowUnexported(inputs{})); diff != "" {
		t.Errorf("reads of client (-want +got):\n%s", diff)
	}
	if in.version(cat) != in.version(routingCatalog(t)) {
		t.Error("version differs between equal catalogs")
	}
}
