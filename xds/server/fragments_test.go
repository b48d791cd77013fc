package server

import (
	"fmt"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshlb/meshlb/discovery"
)

// resourceOf returns the resource named name of type typ in node's
// snapshot in s.
func resourceOf(t *testing.T, s *Server, node, typ, name string) types.Resource {
	t.Helper()
	snap, err := s.Cache().GetSnapshot(node)
	if err != nil {
		t.Fatalf("node %q: %v", node, err)
	}
	r, ok := snap.GetResources(typ)[name]
	if !ok {
		t.Fatalf("node %q: no %s %q", node, typ, name)
	}
	return r
}

// TestSharedResources checks that nodes calling the same service share its
// resources, and that an endpoint change rebuilds the service's
// ClusterLoadAssignment alone, shared again by every node that uses it.
func TestSharedResources(t *testing.T) {
	s := New(nil)
	if err := s.Update(t.Context(), testCatalog(t, nil)); err != nil {
		t.Fatal(err)
	}
	shared := []struct{ typ, name string }{
		{resource.ClusterType, "api"}, {resource.EndpointType, "api"}, {resource.RouteType, "upstream:api"},
		{resource.ClusterType, "db"}, {resource.EndpointType, "db"},
	}
	before := map[string]types.Resource{}
	for _, r := range shared {
		a, b := resourceOf(t, s, "web-sidecar", r.typ, r.name), resourceOf(t, s, "edge", r.typ, r.name)
		if a != b {
			t.Errorf("%s %q: web-sidecar and edge hold different copies", r.typ, r.name)
		}
		before[r.typ+r.name] = a
	}
	built := metricValue(t, s.metrics.built)
	old, err := s.Cache().GetSnapshot("web-sidecar")
	if err != nil {
		t.Fatal(err)
	}
	next := testCatalog(t, func(m map[string]*discovery.Service) { m["api"].Endpoints[0].Port = 8081 })
	if err := s.Update(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, s.metrics.built) - built; got != 1 {
		t.Errorf("resources built for one endpoint change = %v, want 1", got)
	}
	for _, r := range shared {
		a, b := resourceOf(t, s, "web-sidecar", r.typ, r.name), resourceOf(t, s, "edge", r.typ, r.name)
		if a != b {
			t.Errorf("after the change, %s %q: web-sidecar and edge hold different copies", r.typ, r.name)
		}
		rebuilt := a != before[r.typ+r.name]
		if want := r.typ == resource.EndpointType && r.name == "api"; rebuilt != want {
			t.Errorf("after the change, %s %q rebuilt = %v, want %v", r.typ, r.name, rebuilt, want)
		}
	}
	// The node's snapshot swapped its endpoints and kept the other types.
	snap, err := s.Cache().GetSnapshot("web-sidecar")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range allTypes {
		kept := fmt.Sprintf("%p", old.(*cache.Snapshot).GetResourcesAndTTL(typ)) == fmt.Sprintf("%p", snap.(*cache.Snapshot).GetResourcesAndTTL(typ))
		if want := typ != resource.EndpointType; kept != want {
			t.Errorf("%s of web-sidecar kept = %v, want %v", typ, kept, want)
		}
	}
	if n, want := len(s.frags.entries), int(metricValue(t, s.metrics.fragments)); n != want {
		t.Errorf("fragments cached = %d, gauge says %d", n, want)
	}
}

func TestFragmentsSweep(t *testing.T) {
	s := New(nil)
	if err := s.Update(t.Context(), testCatalog(t, nil)); err != nil {
		t.Fatal(err)
	}
	before := len(s.frags.entries)
	edits := []struct {
		name  string
		edit  func(map[string]*discovery.Service)
		delta int // entries after, minus before
	}{
		{"endpoint change replaces one entry", func(m map[string]*discovery.Service) { m["api"].Endpoints[0].Port = 8081 }, 0},
		{"service nobody calls is added", func(m map[string]*discovery.Service) {
			m["cache"] = &discovery.Service{Name: "cache"}
		}, 0},
		{"worker goes away", func(m map[string]*discovery.Service) { delete(m, "worker") }, -2}, // its inbound listener and local_app
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			if err := s.Update(t.Context(), testCatalog(t, e.edit)); err != nil {
				t.Fatal(err)
			}
			if got := len(s.frags.entries) - before; got != e.delta {
				t.Errorf("entries changed by %d, want %d", got, e.delta)
			}
			if err := s.Update(t.Context(), testCatalog(t, nil)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// metricValue returns the value of a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue() + out.GetGauge().GetValue()
}
