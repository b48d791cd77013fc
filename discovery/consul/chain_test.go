package consul

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// chainHealth has web v1 (port 1) and v2 (port 2), and web-backup (port 3).
func chainHealth() map[key][]*api.ServiceEntry {
	v1 := instance("web", "web-1", "127.0.0.1", 1, api.HealthPassing)
	v2 := instance("web", "web-2", "127.0.0.1", 2, api.HealthPassing)
	v1.Service.Meta, v2.Service.Meta = map[string]string{"version": "v1"}, map[string]string{"version": "v2"}
	return map[key][]*api.ServiceEntry{
		{name: "web"}:        {v1, v2},
		{name: "web-backup"}: {instance("web-backup", "b-1", "127.0.0.1", 3, api.HealthPassing)},
	}
}

func resolver(e *api.ServiceResolverConfigEntry) *api.ServiceResolverConfigEntry {
	e.Kind, e.Name = api.ServiceResolver, "web"
	if e.Subsets == nil {
		e.Subsets = map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}
	}
	return e
}

// summary is what a test compares: web's routing and every target's ports.
type summary struct {
	Routes   []discovery.Route
	Failover []string
	Timeout  time.Duration
	Ports    map[string][]int
}

func compileWeb(t *testing.T, entries ...api.ConfigEntry) summary {
	t.Helper()
	byKind := map[string][]api.ConfigEntry{api.ServiceDefaults: {
		&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "http"}}}
	for _, e := range entries {
		byKind[e.GetKind()] = append(byKind[e.GetKind()], e)
	}
	c := buildCatalog(t, chainHealth(), byKind)
	web, _ := c.Service("web")
	s := summary{Routes: web.Routes, Failover: web.Failover, Timeout: web.ConnectTimeout, Ports: map[string][]int{}}
	for _, svc := range c.Services() {
		for _, e := range svc.Endpoints {
			s.Ports[svc.Name] = append(s.Ports[svc.Name], e.Port)
		}
	}
	return s
}

func to(w int, svc string) discovery.Destination {
	return discovery.Destination{Service: svc, Weight: w}
}

func TestChain(t *testing.T) {
	ports := map[string][]int{"web": {1, 2}, "web-backup": {3}}
	with := func(extra map[string][]int) map[string][]int {
		out := map[string][]int{"web": {1, 2}, "web-backup": {3}}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		entries []api.ConfigEntry
		want    summary
	}{
		{"no entries", nil, summary{Ports: ports}},
		{"splitter over subsets", []api.ConfigEntry{
			resolver(&api.ServiceResolverConfigEntry{}),
			&api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web", Splits: []api.ServiceSplit{
				{Weight: 90, ServiceSubset: "v1"}, {Weight: 10, ServiceSubset: "v2"}}},
		}, summary{
			Routes: []discovery.Route{{Destinations: []discovery.Destination{to(9000, "web~v1"), to(1000, "web~v2")}}},
			Ports:  with(map[string][]int{"web~v1": {1}, "web~v2": {2}}),
		}},
		{"router", []api.ConfigEntry{
			resolver(&api.ServiceResolverConfigEntry{}),
			&api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "web", Routes: []api.ServiceRoute{
				{Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{PathPrefix: "/backup"}},
					Destination: &api.ServiceRouteDestination{Service: "web-backup", PrefixRewrite: "/"}},
				{Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{Methods: []string{"POST"},
					Header: []api.ServiceRouteHTTPMatchHeader{{Name: "x-canary", Exact: "1"}}}},
					Destination: &api.ServiceRouteDestination{ServiceSubset: "v2", NumRetries: 2,
						RetryOnConnectFailure: true, RequestTimeout: time.Second}},
				{Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{PathPrefix: "/flaky"}},
					Destination: &api.ServiceRouteDestination{RetryOnStatusCodes: []uint32{503, 429}}},
			}},
		}, summary{
			Routes: []discovery.Route{
				{Match: discovery.RouteMatch{PathPrefix: "/backup"}, Destinations: []discovery.Destination{to(10000, "web-backup")},
					PrefixRewrite: "/"},
				{Match: discovery.RouteMatch{Methods: []string{"POST"}, Headers: []discovery.HeaderMatch{{Name: "x-canary", Exact: "1"}}},
					Destinations: []discovery.Destination{to(10000, "web~v2")}, Timeout: time.Second,
					Retry: &discovery.Retry{NumRetries: 2, On: []string{"connect-failure"}}},
				{Match: discovery.RouteMatch{PathPrefix: "/flaky"}, Destinations: []discovery.Destination{to(10000, "web")},
					Retry: &discovery.Retry{NumRetries: 1, On: []string{"retriable-status-codes"}, StatusCodes: []uint32{503, 429}}},
				{Destinations: []discovery.Destination{to(10000, "web")}},
			},
			Ports: with(map[string][]int{"web~v2": {2}}),
		}},
		{"resolver default subset, failover, timeout", []api.ConfigEntry{
			resolver(&api.ServiceResolverConfigEntry{DefaultSubset: "v1", ConnectTimeout: 3 * time.Second,
				Failover: map[string]api.ServiceResolverFailover{"*": {Service: "web-backup"}}}),
		}, summary{
			Routes:   []discovery.Route{{Destinations: []discovery.Destination{to(10000, "web~v1")}}},
			Failover: []string{"web-backup"}, Timeout: 3 * time.Second,
			Ports: with(map[string][]int{"web~v1": {1}}),
		}},
		{"resolver redirect", []api.ConfigEntry{
			resolver(&api.ServiceResolverConfigEntry{Redirect: &api.ServiceResolverRedirect{Service: "web-backup"}}),
		}, summary{
			Routes: []discovery.Route{{Destinations: []discovery.Destination{to(10000, "web-backup")}}},
			Ports:  ports,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, compileWeb(t, tt.entries...)); diff != "" {
				t.Errorf("compiled web (-want +got):\n%s", diff)
			}
		})
	}
}
