package server

import (
	"fmt"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/sidecar/config"
)

// routingCatalog has an HTTP service web with a path route, a header and
// method route with retries, a 90/10 split, and failover to web-dc2; and a
// TCP service db whose catch-all route redirects to db-primary.
func routingCatalog(t *testing.T) *discovery.Catalog {
	ep := func(port int) []discovery.Endpoint { return []discovery.Endpoint{{Address: "10.0.0.1", Port: port}} }
	return mustCatalog(t, []discovery.Service{
		{Name: "web", Protocol: discovery.ProtocolHTTP, Endpoints: ep(1), Failover: []string{"web-dc2"},
			ConnectTimeout: time.Second, Routes: []discovery.Route{
				{Match: discovery.RouteMatch{PathPrefix: "/admin", CaseInsensitive: true}, Destinations: []discovery.Destination{{Service: "admin"}},
					PrefixRewrite: "/"},
				{Match: discovery.RouteMatch{Methods: []string{"GET", "HEAD"},
					Headers: []discovery.HeaderMatch{{Name: "X-Canary", Exact: "1"}},
					Query:   []discovery.QueryMatch{{Name: "debug", Present: true}}},
					Destinations: []discovery.Destination{{Service: "web~v2"}},
					Timeout:      2 * time.Second, Retry: &discovery.Retry{NumRetries: 3, On: []string{"connect-failure", "5xx", "retriable-status-codes"},
						StatusCodes: []uint32{503}}},
				{Destinations: []discovery.Destination{{Service: "web~v1", Weight: 9000}, {Service: "web~v2", Weight: 1000}}},
			}},
		{Name: "web~v1", Protocol: discovery.ProtocolHTTP, Endpoints: ep(2)},
		{Name: "web~v2", Protocol: discovery.ProtocolHTTP, Endpoints: ep(3)},
		{Name: "web-dc2", Protocol: discovery.ProtocolHTTP, Endpoints: ep(4)},
		{Name: "admin", Protocol: discovery.ProtocolHTTP, Endpoints: ep(5)},
		{Name: "db", Routes: []discovery.Route{{Destinations: []discovery.Destination{{Service: "db-primary"}}}}},
		{Name: "db-primary", Endpoints: ep(6)},
		{Name: "client", Sidecar: &discovery.Sidecar{Upstreams: []discovery.Upstream{
			{Service: "web", BindPort: 10001, Limits: &discovery.Limits{MaxConnections: 10, MaxConcurrentRequests: 20}},
			{Service: "db", BindPort: 10002}}}},
	})
}

// decodeAll runs the sidecar's decoders on every resource of snap, as the
// data plane would on receipt, and returns the decoded route table and
// load assignments by name.
func decodeAll(t *testing.T, snap *cache.Snapshot) (map[string]*config.RouteConfig, map[string]*config.LoadAssignment, map[string]*config.Listener) {
	t.Helper()
	routes, clas, lis := map[string]*config.RouteConfig{}, map[string]*config.LoadAssignment{}, map[string]*config.Listener{}
	for name, r := range snap.GetResources(resource.ClusterType) {
		if _, err := config.DecodeCluster(r.(*cluster.Cluster)); err != nil {
			t.Errorf("cluster %q: %v", name, err)
		}
	}
	for name, r := range snap.GetResources(resource.EndpointType) {
		la, err := config.DecodeLoadAssignment(r.(*endpoint.ClusterLoadAssignment))
		if err != nil {
			t.Errorf("endpoints %q: %v", name, err)
		}
		clas[name] = la
	}
	for name, r := range snap.GetResources(resource.RouteType) {
		rc, err := config.DecodeRouteConfig(r.(*route.RouteConfiguration))
		if err != nil {
			t.Errorf("route %q: %v", name, err)
		}
		routes[name] = rc
	}
	for name, r := range snap.GetResources(resource.ListenerType) {
		l, err := config.DecodeListener(r.(*listener.Listener))
		if err != nil {
			t.Errorf("listener %q: %v", name, err)
		}
		lis[name] = l
	}
	return routes, clas, lis
}

func TestTranslateRouting(t *testing.T) {
	snap, err := Translate(routingCatalog(t), "client")
	if err != nil {
		t.Fatal(err)
	}
	checkResources(t, snap)
	routes, clas, lis := decodeAll(t, snap)

	var got []string
	for _, r := range routes[UpstreamName("web")].VirtualHosts[0].Routes {
		got = append(got, routeSummary(r))
	}
	want := []string{
		"prefix /admin nocase h0 q0 -> admin rewrite / timeout 15s retry <nil>",
		"prefix / h2 q1 -> web~v2 rewrite  timeout 2s retry [connect-failure 5xx retriable-status-codes] 3 0s [503]",
		"prefix / h0 q0 -> [{web~v1 9000} {web~v2 1000}] rewrite  timeout 15s retry <nil>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("web routes (-want +got):\n%s", diff)
	}
	var prio []uint32
	for _, e := range clas["web"].Endpoints {
		prio = append(prio, e.Priority)
	}
	if diff := cmp.Diff([]uint32{0, 1}, prio); diff != "" {
		t.Errorf("web endpoint priorities (-want +got):\n%s", diff)
	}
	for _, name := range []string{"web", "web~v1", "web~v2", "admin"} {
		c, err := config.DecodeCluster(snap.GetResources(resource.ClusterType)[name].(*cluster.Cluster))
		if err != nil || c.MaxConnections != 10 || c.MaxRequests != 20 {
			t.Errorf("cluster %q: max connections %d, max requests %d (%v), want the upstream's limits 10 and 20",
				name, c.MaxConnections, c.MaxRequests, err)
		}
	}
	if c := lis[UpstreamName("db")].FilterChains[0].TCP.Cluster; c != "db-primary" {
		t.Errorf("db listener cluster = %q, want db-primary", c)
	}
}

func routeSummary(r config.Route) string {
	a := r.Action
	var dst any = a.Cluster
	if len(a.Weighted) > 0 {
		dst = a.Weighted
	}
	path := map[config.PathMatch]string{config.PathPrefix: "prefix", config.PathExact: "exact", config.PathRegex: "regex"}
	p := path[r.Match.Kind] + " " + r.Match.Path
	if !r.Match.CaseSensitive {
		p += " nocase"
	}
	// The retry fields the translator sets, named so that fields added to
	// the spec later do not change the summary.
	retry := "<nil>"
	if rt := a.Retry; rt != nil {
		retry = fmt.Sprintf("%v %d %v", rt.On, rt.NumRetries, rt.PerTry)
		if len(rt.RetriableStatusCodes) > 0 {
			retry += fmt.Sprintf(" %v", rt.RetriableStatusCodes)
		}
	}
	return fmt.Sprintf("%s h%d q%d -> %v rewrite %s timeout %v retry %s", p,
		len(r.Match.Headers), len(r.Match.Query), dst, a.PrefixRewrite, a.Timeout, retry)
}

func TestInboundRequestTimeout(t *testing.T) {
	cat := mustCatalog(t, []discovery.Service{{Name: "app", Protocol: discovery.ProtocolHTTP,
		Sidecar: &discovery.Sidecar{InboundPort: 15000, LocalPort: 8080, LocalRequestTimeout: 3 * time.Second}}})
	snap, err := Translate(cat, "app")
	if err != nil {
		t.Fatal(err)
	}
	_, _, lis := decodeAll(t, snap)
	if got := lis[InboundListener].FilterChains[0].HTTP.Routes.VirtualHosts[0].Routes[0].Action.Timeout; got != 3*time.Second {
		t.Errorf("inbound route timeout = %v, want 3s", got)
	}
}
