package consul

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// TestResolverLoadBalancer maps service-resolver load_balancer blocks as
// Consul's injectLBToCluster and injectLBToRouteAction do.
func TestResolverLoadBalancer(t *testing.T) {
	tests := []struct {
		name string
		lb   *api.LoadBalancer
		want *discovery.Resilience
	}{
		{"none", nil, nil},
		{"empty policy", &api.LoadBalancer{}, nil},
		{"round robin", &api.LoadBalancer{Policy: "round_robin"}, &discovery.Resilience{LBPolicy: discovery.LBRoundRobin}},
		{"random", &api.LoadBalancer{Policy: "random"}, &discovery.Resilience{LBPolicy: discovery.LBRandom}},
		{"least request choice count", &api.LoadBalancer{Policy: "least_request", LeastRequestConfig: &api.LeastRequestConfig{ChoiceCount: 5}},
			&discovery.Resilience{LBPolicy: discovery.LBLeastRequest, ChoiceCount: 5}},
		{"least request choice count below 2: Envoy's default", &api.LoadBalancer{Policy: "least_request", LeastRequestConfig: &api.LeastRequestConfig{ChoiceCount: 1}},
			&discovery.Resilience{LBPolicy: discovery.LBLeastRequest}},
		{"ring hash with every hash policy", &api.LoadBalancer{Policy: "ring_hash",
			RingHashConfig: &api.RingHashConfig{MinimumRingSize: 2048, MaximumRingSize: 4096},
			HashPolicies: []api.HashPolicy{
				{Field: "header", FieldValue: "x-user"},
				{Field: "cookie", FieldValue: "id", CookieConfig: &api.CookieConfig{TTL: time.Hour, Path: "/app"}},
				{Field: "cookie", FieldValue: "sess", CookieConfig: &api.CookieConfig{Session: true}},
				{Field: "query_parameter", FieldValue: "u"},
				{SourceIP: true, Terminal: true},
			}},
			&discovery.Resilience{LBPolicy: discovery.LBRingHash, MinRingSize: 2048, MaxRingSize: 4096, HashPolicies: []discovery.HashPolicy{
				{Header: "x-user"}, {Cookie: "id", CookieTTL: time.Hour, CookiePath: "/app"}, {Cookie: "sess", CookieSession: true},
				{Query: "u"}, {SourceIP: true, Terminal: true},
			}}},
		{"ring sizes min above max are dropped", &api.LoadBalancer{Policy: "ring_hash", RingHashConfig: &api.RingHashConfig{MinimumRingSize: 8, MaximumRingSize: 4}},
			&discovery.Resilience{LBPolicy: discovery.LBRingHash}},
		{"maglev header", &api.LoadBalancer{Policy: "maglev", HashPolicies: []api.HashPolicy{{Field: "header", FieldValue: "x-user", Terminal: true}}},
			&discovery.Resilience{LBPolicy: discovery.LBMaglev, HashPolicies: []discovery.HashPolicy{{Header: "x-user", Terminal: true}}}},
		{"hash policies of a non-hashing policy are dropped", &api.LoadBalancer{Policy: "random", HashPolicies: []api.HashPolicy{{SourceIP: true}}},
			&discovery.Resilience{LBPolicy: discovery.LBRandom}},
		{"unknown hash field and missing value are dropped", &api.LoadBalancer{Policy: "maglev",
			HashPolicies: []api.HashPolicy{{Field: "path", FieldValue: "x"}, {Field: "header"}, {Field: "header", FieldValue: "h"}}},
			&discovery.Resilience{LBPolicy: discovery.LBMaglev, HashPolicies: []discovery.HashPolicy{{Header: "h"}}}},
		{"unknown policy", &api.LoadBalancer{Policy: "weighted"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := map[string][]api.ConfigEntry{api.ServiceResolver: {
				&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "api", LoadBalancer: tt.lb}}}
			b := newBuilder(nil, entries, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
			if diff := cmp.Diff(tt.want, b.resilience("api")); diff != "" {
				t.Errorf("resilience (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPassiveHealthCheck maps an upstream's passive_health_check, from its
// registration's Config or from service-defaults, as Consul's
// ToOutlierDetection: always outlier detection, Envoy's defaults for what
// is not set.
func TestPassiveHealthCheck(t *testing.T) {
	u32 := func(n uint32) *uint32 { return &n }
	pct := func(n int) *int { return &n }
	base := 45 * time.Second
	tests := []struct {
		name     string
		config   map[string]any
		defaults *api.UpstreamConfiguration
		want     *discovery.Outlier
	}{
		{"nothing set: Envoy's defaults", nil, nil, &discovery.Outlier{}},
		{"registration config, snake_case", map[string]any{"passive_health_check": map[string]any{
			"interval": "2s", "max_failures": float64(3), "enforcing_consecutive_5xx": float64(0),
			"max_ejection_percent": float64(50), "base_ejection_time": "45s"}}, nil,
			&discovery.Outlier{Interval: 2 * time.Second, Consecutive5xx: 3, Enforcing5xx: pct(0), MaxEjectionPercent: 50, BaseEjectionTime: base}},
		{"registration config, CamelCase and nanoseconds", map[string]any{"PassiveHealthCheck": map[string]any{
			"Interval": float64(time.Second), "MaxFailures": "7"}}, nil,
			&discovery.Outlier{Interval: time.Second, Consecutive5xx: 7}},
		{"service-defaults override for the upstream", nil, &api.UpstreamConfiguration{
			Overrides: []*api.UpstreamConfig{{Name: "db", PassiveHealthCheck: &api.PassiveHealthCheck{MaxFailures: 2, EnforcingConsecutive5xx: u32(100)}}},
			Defaults:  &api.UpstreamConfig{PassiveHealthCheck: &api.PassiveHealthCheck{MaxFailures: 9}}},
			&discovery.Outlier{Consecutive5xx: 2, Enforcing5xx: pct(100)}},
		{"service-defaults defaults", nil, &api.UpstreamConfiguration{
			Overrides: []*api.UpstreamConfig{{Name: "other", PassiveHealthCheck: &api.PassiveHealthCheck{MaxFailures: 2}}},
			Defaults: &api.UpstreamConfig{PassiveHealthCheck: &api.PassiveHealthCheck{Interval: time.Second, MaxFailures: 9,
				MaxEjectionPercent: u32(100), BaseEjectionTime: &base}}},
			&discovery.Outlier{Interval: time.Second, Consecutive5xx: 9, MaxEjectionPercent: 100, BaseEjectionTime: base}},
		{"registration wins over service-defaults", map[string]any{"passive_health_check": map[string]any{"max_failures": float64(1)}},
			&api.UpstreamConfiguration{Defaults: &api.UpstreamConfig{PassiveHealthCheck: &api.PassiveHealthCheck{MaxFailures: 9}}},
			&discovery.Outlier{Consecutive5xx: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := map[string][]api.ConfigEntry{api.ServiceDefaults: {
				&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", UpstreamConfig: tt.defaults}}}
			b := newBuilder(nil, entries, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
			got := b.passiveHealthCheck("web", api.Upstream{DestinationName: "db", Config: tt.config})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("passive health check (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRouteHashPolicies: a route takes the hash policies of its target's
// resolver, and a split those of the first hash-based leg, as Consul's
// discovery chain compiler; the service's own catch-all keeps its
// resolver's balancing.
func TestRouteHashPolicies(t *testing.T) {
	health := map[key][]*api.ServiceEntry{
		{name: "web"}: {instance("web", "web1", "10.0.0.1", 80, api.HealthPassing)},
		{name: "a"}:   {instance("a", "a1", "10.0.0.2", 80, api.HealthPassing)},
		{name: "b"}:   {instance("b", "b1", "10.0.0.3", 80, api.HealthPassing)},
	}
	byHeader := &api.LoadBalancer{Policy: "maglev", HashPolicies: []api.HashPolicy{{Field: "header", FieldValue: "x-user"}}}
	entries := map[string][]api.ConfigEntry{
		api.ServiceDefaults: {
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "http"},
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "a", Protocol: "http"},
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "b", Protocol: "http"},
		},
		api.ServiceSplitter: {&api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web",
			Splits: []api.ServiceSplit{{Weight: 50, Service: "a"}, {Weight: 50, Service: "b"}}}},
		api.ServiceResolver: {
			&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "a", LoadBalancer: &api.LoadBalancer{Policy: "least_request"}},
			&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "b", LoadBalancer: byHeader},
		},
	}
	c := buildCatalog(t, health, entries)
	web, _ := c.Service("web")
	if len(web.Routes) != 1 {
		t.Fatalf("web routes = %+v, want the split", web.Routes)
	}
	want := []discovery.HashPolicy{{Header: "x-user"}}
	if diff := cmp.Diff(want, web.Routes[0].HashPolicies); diff != "" {
		t.Errorf("split hash policies (-want +got):\n%s", diff)
	}
	for name, policy := range map[string]discovery.LBPolicy{"a": discovery.LBLeastRequest, "b": discovery.LBMaglev} {
		if s, _ := c.Service(name); s.Resilience == nil || s.Resilience.LBPolicy != policy {
			t.Errorf("%s resilience = %+v, want policy %s", name, s.Resilience, policy)
		}
	}
}
