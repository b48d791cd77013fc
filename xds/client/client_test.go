package client

import (
	"errors"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/config"
)

// base is a TCP listener and an HTTP listener (over RDS) in front of one
// EDS cluster with the given endpoints.
func base(addrs ...string) map[string][]types.Resource {
	return resources(
		[]*listenerv3.Listener{tcpListener("tcp", 10000, "backend"), httpListener("web", 10001, "routes")},
		[]*routev3.RouteConfiguration{routes("routes", "backend")},
		[]*clusterv3.Cluster{edsCluster("backend", "", clusterv3.Cluster_ROUND_ROBIN)},
		[]*endpointv3.ClusterLoadAssignment{loadAssignment("backend", addrs...)})
}

func baseSummary(addrs ...string) summary {
	return summary{
		Listeners: []string{"tcp>backend", "web>rds:routes"},
		Clusters:  []string{"backend/backend"},
		Routes:    []string{"routes"},
		Endpoints: map[string][]string{"backend": addrs},
	}
}

var allTypes = []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType}

func TestUpdates(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			c, _ := runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)

			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
			select {
			case <-c.Ready():
			case <-ctx.Done():
				t.Fatal("Ready not closed after the first Apply")
			}
			srv.set(t, "v2", base("10.0.0.1:80", "10.0.0.2:80"))
			set := a.waitFor(ctx, t, baseSummary("10.0.0.1:80", "10.0.0.2:80"))
			if dump, err := set.ConfigDump(); err != nil || len(dump) == 0 {
				t.Errorf("applied Set has no config dump: %q, %v", dump, err)
			}
			if m.delta {
				// Only the changed load assignment is sent.
				srv.waitACK(ctx, t, resourcev3.EndpointType, "v2")
			} else {
				for _, typ := range allTypes {
					srv.waitACK(ctx, t, typ, "v2")
				}
				// The same resources under a new version are ACKed, not
				// applied again.
				n := len(a.sets.all())
				srv.set(t, "v3", base("10.0.0.1:80", "10.0.0.2:80"))
				for _, typ := range allTypes {
					srv.waitACK(ctx, t, typ, "v3")
				}
				if got := len(a.sets.all()); got != n {
					t.Errorf("Apply calls after an unchanged update = %d, want %d", got, n)
				}
			}

			first := srv.reqs.all()[0]
			if got, want := []string{first.node.GetId(), first.node.GetCluster(), first.node.GetUserAgentName()},
				[]string{testNode, "test", "meshlb"}; !slices.Equal(got, want) {
				t.Errorf("node (id, cluster, user agent) = %q, want %q", got, want)
			}
		})
	}
}

func TestNACK(t *testing.T) {
	tests := []struct {
		name    string
		bad     map[string][]types.Resource
		typeURL string
		want    string // in error_detail
	}{
		{
			name: "cluster lb_policy",
			bad: resources(
				[]*listenerv3.Listener{tcpListener("tcp", 10000, "backend"), httpListener("web", 10001, "routes")},
				[]*routev3.RouteConfiguration{routes("routes", "backend")},
				[]*clusterv3.Cluster{edsCluster("backend", "", clusterv3.Cluster_CLUSTER_PROVIDED)},
				[]*endpointv3.ClusterLoadAssignment{loadAssignment("backend", "10.0.0.1:80")}),
			typeURL: resourcev3.ClusterType,
			want:    `cluster "backend": lb_policy`,
		},
		{
			name: "listener filter",
			bad: resources(
				[]*listenerv3.Listener{tcpListener("tcp", 10000, "backend"), httpListener("web", 10001, "routes"), echoListener("echo", 10002)},
				[]*routev3.RouteConfiguration{routes("routes", "backend")},
				[]*clusterv3.Cluster{edsCluster("backend", "", clusterv3.Cluster_ROUND_ROBIN)},
				[]*endpointv3.ClusterLoadAssignment{loadAssignment("backend", "10.0.0.1:80")}),
			typeURL: resourcev3.ListenerType,
			want:    `listener "echo": filter_chains[0].filters[0].typed_config`,
		},
	}
	for _, m := range modes {
		for _, tc := range tests {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				ctx := timeout(t)
				srv := newXDSServer(t)
				srv.set(t, "v1", base("10.0.0.1:80"))
				a := &fakeApplier{}
				runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
				a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
				n := len(a.sets.all())

				srv.set(t, "v2", tc.bad)
				nack, err := srv.reqs.wait(ctx, func(r request) bool { return r.typeURL == tc.typeURL && r.errDetail != "" })
				if err != nil {
					t.Fatalf("no NACK: %v", err)
				}
				if !strings.Contains(nack.errDetail, tc.want) {
					t.Errorf("error_detail = %q, want it to contain %q", nack.errDetail, tc.want)
				}
				if !m.delta && nack.version != "v1" {
					t.Errorf("NACK version_info = %q, want the last ACKed v1", nack.version)
				}
				if got := len(a.sets.all()); got != n {
					t.Errorf("Apply calls = %d, want %d (none for a rejected response)", got, n)
				}
				if diff := cmp.Diff(baseSummary("10.0.0.1:80"), a.last()); diff != "" {
					t.Errorf("last applied Set changed (-want +got):\n%s", diff)
				}

				srv.set(t, "v3", base("10.0.0.3:80"))
				a.waitFor(ctx, t, baseSummary("10.0.0.3:80"))
				srv.waitACK(ctx, t, tc.typeURL, "v3")
			})
		}
	}
}

func TestApplyError(t *testing.T) {
	const msg = `listener "bad": listen tcp 127.0.0.1:10009: bind: address already in use`
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			a.setFail(func(s *config.Set) error {
				if slices.ContainsFunc(s.Listeners, func(l config.Listener) bool { return l.Name == "bad" }) {
					return errors.New(msg)
				}
				return nil
			})
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))

			bad := base("10.0.0.1:80")
			bad[resourcev3.ListenerType] = append(bad[resourcev3.ListenerType], tcpListener("bad", 10009, "backend"))
			srv.set(t, "v2", bad)
			nack, err := srv.reqs.wait(ctx, func(r request) bool { return r.errDetail != "" })
			if err != nil {
				t.Fatalf("no NACK: %v", err)
			}
			if got, want := []string{nack.typeURL, nack.errDetail}, []string{resourcev3.ListenerType, msg}; !slices.Equal(got, want) {
				t.Errorf("NACK (type, error_detail) = %q, want %q", got, want)
			}
			if diff := cmp.Diff(baseSummary("10.0.0.1:80"), a.last()); diff != "" {
				t.Errorf("last applied Set changed (-want +got):\n%s", diff)
			}

			srv.set(t, "v3", base("10.0.0.2:80"))
			a.waitFor(ctx, t, baseSummary("10.0.0.2:80"))
		})
	}
}
