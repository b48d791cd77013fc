package sidecar

import (
	"testing"

	"github.com/meshlb/meshlb/sidecar/config"
)

// TestIncrementalBuild checks that an update rebuilds only what changed:
// a cluster whose spec and load assignment are the same objects keeps its
// running cluster, a route table whose clusters did not change is kept,
// and the endpoint state of an address no cluster uses any more is
// released while a shared one is kept.
func TestIncrementalBuild(t *testing.T) {
	s := newSidecar(t)
	la := func(addrs ...string) *config.LoadAssignment {
		out := &config.LoadAssignment{}
		for _, a := range addrs {
			out.Endpoints = append(out.Endpoints, config.Endpoint{Address: a, Weight: 1})
		}
		return out
	}
	rc := &config.RouteConfig{Name: "rc", VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"},
		Routes: []config.Route{{Action: &config.RouteAction{Cluster: "a"}}}}}}
	set := func(a, b *config.LoadAssignment) *config.Set {
		return &config.Set{
			Listeners: []config.Listener{{Name: "http", Address: "127.0.0.1:0", FilterChains: []config.FilterChain{{
				HTTP: &config.HTTPManager{StatPrefix: "http", RDSName: "rc"}}}}},
			Clusters:  []config.Cluster{{Name: "a", Type: config.DiscoveryEDS}, {Name: "b", Type: config.DiscoveryEDS}},
			Routes:    map[string]*config.RouteConfig{"rc": rc},
			Endpoints: map[string]*config.LoadAssignment{"a": a, "b": b},
		}
	}
	a1 := la("10.0.0.1:80")
	if err := s.Apply(set(a1, la("10.0.0.1:80", "10.0.0.2:80"))); err != nil {
		t.Fatal(err)
	}
	first := s.Snapshot()
	table := first.Listeners["http"].Chains[0].httpCfg.Routes

	// b loses 10.0.0.2; a is unchanged.
	if err := s.Apply(set(a1, la("10.0.0.1:80"))); err != nil {
		t.Fatal(err)
	}
	second := s.Snapshot()
	if second.Clusters["a"] != first.Clusters["a"] {
		t.Error("unchanged cluster a was rebuilt")
	}
	if second.Clusters["b"] == first.Clusters["b"] {
		t.Error("changed cluster b was kept")
	}
	if second.Listeners["http"].Chains[0].httpCfg.Routes != table {
		t.Error("route table over unchanged clusters was compiled again")
	}
	if got := s.registry.Len(); got != 1 {
		t.Errorf("endpoint states = %d, want 1 (10.0.0.2 released, the shared 10.0.0.1 kept)", got)
	}

	// a changes: the table that routes to it is compiled again.
	if err := s.Apply(set(la("10.0.0.3:80"), la("10.0.0.1:80"))); err != nil {
		t.Fatal(err)
	}
	if s.Snapshot().Listeners["http"].Chains[0].httpCfg.Routes == table {
		t.Error("route table kept although its cluster changed")
	}
}
