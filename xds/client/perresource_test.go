package client

import (
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/config"
)

// with returns base(addrs...) plus the extra listeners and clusters.
func with(ls []*listenerv3.Listener, cs []*clusterv3.Cluster, addrs ...string) map[string][]types.Resource {
	res := base(addrs...)
	for _, l := range ls {
		res[resourcev3.ListenerType] = append(res[resourcev3.ListenerType], l)
	}
	for _, c := range cs {
		res[resourcev3.ClusterType] = append(res[resourcev3.ClusterType], c)
	}
	return res
}

// inlineListener is an HTTP listener with an inline route configuration
// whose one route goes to cluster.
func inlineListener(name string, port uint32, cluster string) *listenerv3.Listener {
	return listener(name, port, &hcmv3.HttpConnectionManager{
		StatPrefix:     name,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: routes("local", cluster)},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})},
		}},
	})
}

// nacks returns the error_detail of every NACK of typeURL the server got.
func nacks(srv *xdsServer, typeURL string) []string {
	var out []string
	for _, r := range srv.reqs.all() {
		if r.typeURL == typeURL && r.errDetail != "" {
			out = append(out, r.errDetail)
		}
	}
	return out
}

// TestPerResourceNACK checks Envoy's per-resource accept and reject: the
// good resources of a response are applied, the bad ones are NACKed by
// name in a stable order, and, in delta mode, a good listener that came
// with a bad one is kept after the server removes the bad one without
// resending the good one.
func TestPerResourceNACK(t *testing.T) {
	const (
		badListeners = `listener "alpha": filter_chains[0].filters[0].typed_config: ` +
			`unsupported filter "type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo"` + "\n" +
			`listener "zeta": filter_chains[0].filters[0].typed_config: ` +
			`unsupported filter "type.googleapis.com/envoy.extensions.filters.network.echo.v3.Echo"`
		badCluster = `cluster "maglev": lb_policy`
	)
	good := baseSummary("10.0.0.1:80")
	good.Listeners = []string{"extra>backend", "tcp>backend", "web>rds:routes"}
	good.Clusters = []string{"backend/backend", "other/backend"}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			srv.set(t, "v2", with(
				[]*listenerv3.Listener{echoListener("zeta", 10002), tcpListener("extra", 10003, "backend"), echoListener("alpha", 10004)},
				[]*clusterv3.Cluster{edsCluster("maglev", "backend", clusterv3.Cluster_CLUSTER_PROVIDED), edsCluster("other", "backend", clusterv3.Cluster_ROUND_ROBIN)},
				"10.0.0.1:80"))
			a.waitFor(ctx, t, good)
			for _, w := range []struct{ typ, detail string }{{resourcev3.ListenerType, badListeners}, {resourcev3.ClusterType, badCluster}} {
				if _, err := srv.reqs.wait(ctx, func(r request) bool { return r.typeURL == w.typ && r.errDetail != "" }); err != nil {
					t.Fatalf("no NACK of %s: %v", w.typ, err)
				}
				if got := nacks(srv, w.typ)[0]; !strings.HasPrefix(got, w.detail) {
					t.Errorf("%s error_detail =\n%s\nwant it to start with\n%s", w.typ, got, w.detail)
				}
			}

			// The bad resources are removed; the good ones stay, although
			// a delta server does not send them again.
			srv.set(t, "v3", with(
				[]*listenerv3.Listener{tcpListener("extra", 10003, "backend")},
				[]*clusterv3.Cluster{edsCluster("other", "backend", clusterv3.Cluster_ROUND_ROBIN)},
				"10.0.0.1:80"))
			srv.waitACK(ctx, t, resourcev3.ListenerType, "v3")
			srv.waitACK(ctx, t, resourcev3.ClusterType, "v3")
			if diff := cmp.Diff(good, a.last()); diff != "" {
				t.Errorf("applied Set after the bad resources were removed (-want +got):\n%s", diff)
			}
			// Repeated NACKs of the same rejection read the same, so the
			// pacer recognises them whatever order the server sent.
			if got := slices.Compact(nacks(srv, resourcev3.ListenerType)); len(got) != 1 {
				t.Errorf("listener NACKs differ:\n%s", strings.Join(got, "\n--\n"))
			}
		})
	}
}

// TestPerResourceNACKKeepsPrevious checks that a rejected update of a
// resource keeps its previous version in force, beside an accepted update
// of another resource in the same response.
func TestPerResourceNACKKeepsPrevious(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			// "tcp" turns bad; "web" moves to another route configuration.
			res := base("10.0.0.1:80")
			res[resourcev3.ListenerType] = []types.Resource{echoListener("tcp", 10000), httpListener("web", 10001, "routes2")}
			res[resourcev3.RouteType] = []types.Resource{routes("routes2", "backend")}
			srv.set(t, "v2", res)
			want := baseSummary("10.0.0.1:80")
			want.Listeners = []string{"tcp>backend", "web>rds:routes2"}
			want.Routes = []string{"routes2"}
			a.waitFor(ctx, t, want)
			if _, err := srv.reqs.wait(ctx, func(r request) bool {
				return r.typeURL == resourcev3.ListenerType && strings.HasPrefix(r.errDetail, `listener "tcp": `)
			}); err != nil {
				t.Fatalf("no NACK of listener tcp: %v", err)
			}
		})
	}
}

// TestValidateClusters checks Envoy's validate_clusters: a listener whose
// inline route configuration names a cluster that does not exist is
// rejected; a route configuration over RDS that does is accepted (Envoy's
// default for RDS is false) and answers 503 at request time.
func TestValidateClusters(t *testing.T) {
	const detail = `listener "inline": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster: unknown cluster "missing" (validate_clusters)`
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			res := with([]*listenerv3.Listener{inlineListener("inline", 10005, "missing"), inlineListener("local", 10006, "backend")}, nil, "10.0.0.1:80")
			res[resourcev3.RouteType] = []types.Resource{routes("routes", "nowhere")}
			srv.set(t, "v2", res)
			want := baseSummary("10.0.0.1:80")
			want.Listeners = []string{"local>rds:", "tcp>backend", "web>rds:routes"}
			routed := func(s *config.Set) bool {
				rc := s.Routes["routes"]
				return rc != nil && rc.VirtualHosts[0].Routes[0].Action.Cluster == "nowhere"
			}
			if _, err := a.sets.wait(ctx, func(s *config.Set) bool { return summarize(s).equal(want) && routed(s) }); err != nil {
				t.Fatalf("no Set applied with %+v and the RDS route to the unknown cluster; last: %+v: %v", want, a.last(), err)
			}
			nack, err := srv.reqs.wait(ctx, func(r request) bool { return r.typeURL == resourcev3.ListenerType && r.errDetail != "" })
			if err != nil {
				t.Fatalf("no NACK: %v", err)
			}
			if nack.errDetail != detail {
				t.Errorf("error_detail =\n%s\nwant\n%s", nack.errDetail, detail)
			}
			if got := nacks(srv, resourcev3.RouteType); len(got) > 0 {
				t.Errorf("route configuration NACKed: %q", got)
			}
		})
	}
}
