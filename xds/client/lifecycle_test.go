package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
)

func TestReconnect(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
			srv.waitACK(ctx, t, resourcev3.ListenerType, "v1")

			addr := srv.addr
			srv.shutdown()
			srv.set(t, "v2", base("10.0.0.2:80"))
			srv.start(t, addr)
			a.waitFor(ctx, t, baseSummary("10.0.0.2:80"))

			// The new stream tells the server what the client has.
			r, err := srv.reqs.wait(ctx, func(r request) bool { return r.gen == 2 && r.typeURL == resourcev3.ListenerType })
			if err != nil {
				t.Fatal(err)
			}
			if m.delta {
				if _, ok := r.initial["tcp"]; !ok || len(r.initial) != 2 {
					t.Errorf("initial_resource_versions = %v, want tcp and web", r.initial)
				}
			} else if r.version != "v1" {
				t.Errorf("first version_info on the new stream = %q, want v1", r.version)
			}
		})
	}
}

func TestFailover(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			srv.set(t, "v1", base("10.0.0.1:80"))
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{deadAddr(t), srv.addr}, Delta: m.delta}, a)
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
		})
	}
}

func TestInitialFetchTimeout(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			// The load assignment of "lost" never comes.
			srv.set(t, "v1", resources(
				[]*listenerv3.Listener{tcpListener("tcp", 10000, "backend")}, nil,
				[]*clusterv3.Cluster{edsCluster("backend", "", clusterv3.Cluster_ROUND_ROBIN),
					edsCluster("lost", "", clusterv3.Cluster_ROUND_ROBIN)},
				[]*endpointv3.ClusterLoadAssignment{loadAssignment("backend", "10.0.0.1:80")}))
			a := &fakeApplier{}
			c, _ := runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta, InitialFetchTimeout: 100 * time.Millisecond}, a)
			a.waitFor(ctx, t, summary{
				Listeners: []string{"tcp>backend"},
				Clusters:  []string{"backend/backend"},
				Endpoints: map[string][]string{"backend": {"10.0.0.1:80"}},
			})
			select {
			case <-c.Ready():
			case <-ctx.Done():
				t.Fatal("Ready not closed")
			}
		})
	}
}

func TestStateDir(t *testing.T) {
	tests := []struct {
		name string
		// prepare runs before the client under test starts, with the server
		// at v1 and the state directory.
		prepare func(t *testing.T, srv *xdsServer, dir string, delta bool)
		// serverUp says whether the server runs while the client starts.
		serverUp bool
		// want are the summaries of the first Sets applied.
		want []summary
	}{
		{
			name:    "restart without a control server",
			prepare: persistV1,
			want:    []summary{baseSummary("10.0.0.1:80")},
		},
		{
			name: "persisted state first, then the server's",
			prepare: func(t *testing.T, srv *xdsServer, dir string, delta bool) {
				persistV1(t, srv, dir, delta)
				srv.set(t, "v2", base("10.0.0.2:80"))
			},
			serverUp: true,
			want:     []summary{baseSummary("10.0.0.1:80"), baseSummary("10.0.0.2:80")},
		},
		{
			name: "corrupt state is ignored",
			prepare: func(t *testing.T, _ *xdsServer, dir string, _ bool) {
				if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(`{"format":1,"types":[{`), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			serverUp: true,
			want:     []summary{baseSummary("10.0.0.1:80")},
		},
	}
	for _, m := range modes {
		for _, tc := range tests {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				ctx := timeout(t)
				dir := t.TempDir()
				srv := newXDSServer(t)
				srv.set(t, "v1", base("10.0.0.1:80"))
				tc.prepare(t, srv, dir, m.delta)
				target := srv.addr
				if !tc.serverUp {
					srv.shutdown()
					target = deadAddr(t)
				}

				a := &fakeApplier{}
				c, _ := runClient(t, Options{Targets: []string{target}, Delta: m.delta, StateDir: dir}, a)
				a.waitFor(ctx, t, tc.want[len(tc.want)-1])
				select {
				case <-c.Ready():
				case <-ctx.Done():
					t.Fatal("Ready not closed")
				}
				var got []summary
				for _, s := range a.sets.all()[:len(tc.want)] {
					got = append(got, summarize(s))
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("applied Sets (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// persistV1 runs a client against srv until it applied v1, then stops it,
// leaving v1 in dir.
func persistV1(t *testing.T, srv *xdsServer, dir string, delta bool) {
	t.Helper()
	a := &fakeApplier{}
	_, stop := runClient(t, Options{Targets: []string{srv.addr}, Delta: delta, StateDir: dir}, a)
	a.waitFor(timeout(t), t, baseSummary("10.0.0.1:80"))
	stop()
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		t.Fatalf("state not persisted: %v", err)
	}
}
