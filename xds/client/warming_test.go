package client

import (
	"context"
	"fmt"
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/config"
)

func TestWarming(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			// v2 moves backend to new endpoints and adds a cluster and a
			// listener, none of whose dependencies are there yet.
			ls := []*listenerv3.Listener{tcpListener("tcp", 10000, "backend"), httpListener("web", 10001, "routes"),
				httpListener("web2", 10002, "routes2")}
			cs := []*clusterv3.Cluster{edsCluster("backend", "backend-v2", clusterv3.Cluster_ROUND_ROBIN),
				edsCluster("extra", "", clusterv3.Cluster_RANDOM)}
			srv.set(t, "v2", resources(ls, []*routev3.RouteConfiguration{routes("routes", "backend")}, cs,
				[]*endpointv3.ClusterLoadAssignment{loadAssignment("backend", "10.0.0.1:80")}))
			srv.waitACK(ctx, t, resourcev3.ClusterType, "v2")
			srv.waitACK(ctx, t, resourcev3.ListenerType, "v2")
			waitSubscribed(ctx, t, srv, resourcev3.EndpointType, "backend-v2", "extra")
			waitSubscribed(ctx, t, srv, resourcev3.RouteType, "routes2")
			if diff := cmp.Diff(baseSummary("10.0.0.1:80"), a.last()); diff != "" {
				t.Errorf("warming resources applied (-want +got):\n%s", diff)
			}

			srv.set(t, "v3", resources(ls,
				[]*routev3.RouteConfiguration{routes("routes", "backend"), routes("routes2", "extra")}, cs,
				[]*endpointv3.ClusterLoadAssignment{loadAssignment("backend-v2", "10.0.0.2:80"), loadAssignment("extra", "10.0.0.3:80")}))
			a.waitFor(ctx, t, summary{
				Listeners: []string{"tcp>backend", "web>rds:routes", "web2>rds:routes2"},
				Clusters:  []string{"backend/backend-v2", "extra/extra"},
				Routes:    []string{"routes", "routes2"},
				Endpoints: map[string][]string{"backend-v2": {"10.0.0.2:80"}, "extra": {"10.0.0.3:80"}},
			})
			for i, s := range a.sets.all() {
				if err := complete(s); err != nil {
					t.Errorf("applied Set %d: %v", i, err)
				}
			}
			// backend's old endpoints are no longer subscribed.
			if _, err := srv.reqs.wait(ctx, func(r request) bool {
				return r.typeURL == resourcev3.EndpointType &&
					(m.delta && slices.Contains(r.unsub, "backend") || !m.delta && slices.Equal(r.names, []string{"backend-v2", "extra"}))
			}); err != nil {
				t.Errorf("backend's old load assignment not unsubscribed: %v", err)
			}
		})
	}
}

// waitSubscribed waits for a request of typeURL subscribing to names.
func waitSubscribed(ctx context.Context, t *testing.T, srv *xdsServer, typeURL string, names ...string) {
	t.Helper()
	_, err := srv.reqs.wait(ctx, func(r request) bool {
		return r.typeURL == typeURL && !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(r.names, n) })
	})
	if err != nil {
		t.Fatalf("%s %q not subscribed: %v", typeURL, names, err)
	}
}

// complete reports a cluster without endpoints or a listener without routes.
func complete(s *config.Set) error {
	for _, c := range s.Clusters {
		if la := s.Endpoints[c.EDSName]; la == nil || len(la.Endpoints) == 0 {
			return fmt.Errorf("cluster %q has no endpoints", c.Name)
		}
	}
	for _, l := range s.Listeners {
		for _, name := range l.RDSNames() {
			if rc := s.Routes[name]; rc == nil || len(rc.VirtualHosts) == 0 {
				return fmt.Errorf("listener %q has no routes", l.Name)
			}
		}
	}
	return nil
}
