package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/admin"
)

// Scale of the config-apply benchmark (issue 8, point 9): 5,000 EDS
// clusters of 10 endpoints each, routed by one HTTP listener's RDS route
// configuration (a virtual host per cluster) and one TCP listener.
const (
	scaleClusters  = 5000
	scaleEndpoints = 10
	// scaleEmpty more clusters have no endpoints.
	scaleEmpty = 10
)

// scaleConfig returns the resources of the benchmark's configuration.
func scaleConfig() (ls []*listenerv3.Listener, rs []*routev3.RouteConfiguration,
	cs []*clusterv3.Cluster, es []*endpointv3.ClusterLoadAssignment) {
	rc := &routev3.RouteConfiguration{Name: "routes"}
	for i := range scaleClusters {
		name := fmt.Sprintf("svc-%04d", i)
		cs = append(cs, edsCluster(name, "", clusterv3.Cluster_ROUND_ROBIN))
		es = append(es, scaleAssignment(i, 0))
		vh := routes(name, name).GetVirtualHosts()[0]
		vh.Name, vh.Domains = name, []string{name}
		rc.VirtualHosts = append(rc.VirtualHosts, vh)
	}
	for i := range scaleEmpty {
		name := fmt.Sprintf("empty-%d", i)
		cs = append(cs, edsCluster(name, "", clusterv3.Cluster_ROUND_ROBIN))
		es = append(es, loadAssignment(name))
	}
	tcp := tcpListener("tcp", 0, "svc-0000")
	tcp.Address = socket("127.0.0.2", 0)
	ls = []*listenerv3.Listener{httpListener("http", 0, "routes"), tcp}
	return ls, []*routev3.RouteConfiguration{rc}, cs, es
}

// scaleAssignment returns cluster i's endpoints; gen changes the port of
// its first endpoint.
func scaleAssignment(i, gen int) *endpointv3.ClusterLoadAssignment {
	var addrs []string
	for j := range scaleEndpoints {
		port := 8080
		if j == 0 {
			port += gen
		}
		addrs = append(addrs, fmt.Sprintf("10.%d.%d.%d:%d", i/256, i%256, j, port))
	}
	return loadAssignment(fmt.Sprintf("svc-%04d", i), addrs...)
}

// packAll packs ms.
func packAll[M proto.Message](ms []M) []*anypb.Any {
	out := make([]*anypb.Any, len(ms))
	for i, m := range ms {
		out[i] = mustAny(m)
	}
	return out
}

// scaleClient returns a client that applies to a real sidecar, with the
// benchmark's configuration accepted and applied, as a response of each
// type would; it reports how long that took.
func scaleClient(tb testing.TB, delta bool) (*Client, *sidecar.Sidecar, [numKinds][]*anypb.Any, time.Duration) {
	ls, rs, cs, es := scaleConfig()
	var wire [numKinds][]*anypb.Any
	wire[kindListener], wire[kindRoute] = packAll(ls), packAll(rs)
	wire[kindCluster], wire[kindEndpoint] = packAll(cs), packAll(es)
	logger := slog.New(slog.DiscardHandler)
	sc := sidecar.New(logger)
	tb.Cleanup(func() { sc.Close(0) })
	c := New(Options{NodeID: testNode, Delta: delta, Logger: logger}, sc)
	c.initDeadline = time.Now().Add(time.Minute)
	start := time.Now()
	for _, k := range subscribeOrder {
		if err := accept(c, k, "v0", wire[k]); err != nil {
			tb.Fatalf("accepting the %s: %v", kinds[k].label, err)
		}
	}
	if !c.applied {
		tb.Fatal("the configuration was not applied")
	}
	return c, sc, wire, time.Since(start)
}

// accept hands c a response of kind k holding as, in c's mode.
func accept(c *Client, k kind, version string, as []*anypb.Any) error {
	if !c.opts.Delta {
		return c.acceptSotW(k, version, as)
	}
	resp := &discoveryv3.DeltaDiscoveryResponse{TypeUrl: kinds[k].url, SystemVersionInfo: version}
	for _, a := range as {
		resp.Resources = append(resp.Resources, &discoveryv3.Resource{Name: nameOf(k, a), Version: version, Resource: a})
	}
	return c.acceptDelta(k, resp)
}

func nameOf(k kind, a *anypb.Any) string {
	m := kinds[k].newMsg()
	if err := a.UnmarshalTo(m); err != nil {
		panic(err)
	}
	return kinds[k].name(m)
}

// BenchmarkApplyOneEndpoint measures applying a change of one endpoint in
// a 5,000-cluster, 50,000-endpoint configuration to a running sidecar:
// the client receives the load assignments (all of them in
// state-of-the-world, the changed one in delta), decodes what changed,
// and the sidecar puts the new configuration in force. It also reports
// the cold start: accepting and applying the whole configuration.
func BenchmarkApplyOneEndpoint(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			c, sc, wire, cold := scaleClient(b, m.delta)
			eds := wire[kindEndpoint]
			b.ReportAllocs()
			gen := 0
			cpu0 := cpuTime()
			for b.Loop() {
				gen++
				i := gen % scaleClusters
				a := mustAny(scaleAssignment(i, gen))
				resp := eds
				if m.delta {
					resp = []*anypb.Any{a}
				} else {
					eds[i] = a
				}
				if err := accept(c, kindEndpoint, fmt.Sprint("v", gen), resp); err != nil {
					b.Fatal(err)
				}
				got := sc.Snapshot().Clusters[fmt.Sprintf("svc-%04d", i)].Endpoints[0].Addr
				if want := fmt.Sprintf("10.%d.%d.0:%d", i/256, i%256, 8080+gen); got != want {
					b.Fatalf("endpoint after update %d = %s, want %s", gen, got, want)
				}
			}
			b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime returns the CPU time the process used so far (all threads, GC
// included): on a shared machine it is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkColdStart measures a sidecar's start with the benchmark's
// configuration from a real go-control-plane server: from Run to the
// configuration in force (listeners bound, /ready LIVE). It checks that
// the endpoint-less clusters are in force too (listed in /clusters).
// cpu-ms/start is the CPU the process used meanwhile, the server's
// included.
func BenchmarkColdStart(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			ls, rs, cs, es := scaleConfig()
			srv := newXDSServer(b)
			srv.set(b, "v1", resources(ls, rs, cs, es))
			logger := slog.New(slog.DiscardHandler)
			var total, cpu time.Duration
			for b.Loop() {
				cpu0 := cpuTime()
				sc := sidecar.New(logger)
				c := New(Options{NodeID: testNode, Targets: []string{srv.addr}, Delta: m.delta, Logger: logger}, sc)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- c.Run(ctx) }()
				select {
				case <-sc.Ready():
				case <-time.After(time.Minute):
					b.Fatal("not ready within a minute")
				}
				total += time.Since(start)
				cpu += cpuTime() - cpu0
				snap := sc.Snapshot()
				if got, want := len(snap.Clusters), scaleClusters+scaleEmpty; got != want {
					b.Errorf("clusters in force = %d, want %d", got, want)
				}
				rec := httptest.NewRecorder()
				admin.Handler(sc).ServeHTTP(rec, httptest.NewRequest("GET", "/clusters", nil))
				if body := rec.Body.String(); !strings.Contains(body, "empty-0::default_priority::max_connections::") {
					b.Errorf("/clusters lacks the endpoint-less cluster empty-0")
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				sc.Close(0)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/start")
		})
	}
}

// BenchmarkUpdateEndToEnd measures a one-endpoint change of the
// benchmark's configuration from a real go-control-plane server to the
// sidecar: from SetSnapshot to the new endpoint in force. It includes the
// server's work (a state-of-the-world server resends every load
// assignment; a delta server hashes every resource of the snapshot).
func BenchmarkUpdateEndToEnd(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			ls, rs, cs, es := scaleConfig()
			srv := newXDSServer(b)
			srv.set(b, "v0", resources(ls, rs, cs, es))
			logger := slog.New(slog.DiscardHandler)
			sc := sidecar.New(logger)
			b.Cleanup(func() { sc.Close(0) })
			c := New(Options{NodeID: testNode, Targets: []string{srv.addr}, Delta: m.delta, Logger: logger}, sc)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			b.Cleanup(func() {
				cancel()
				<-done
			})
			<-sc.Ready()
			gen := 0
			for b.Loop() {
				gen++
				i := gen % scaleClusters
				es[i] = scaleAssignment(i, gen)
				srv.set(b, fmt.Sprint("v", gen), resources(ls, rs, cs, es))
				name, want := fmt.Sprintf("svc-%04d", i), fmt.Sprintf("10.%d.%d.0:%d", i/256, i%256, 8080+gen)
				deadline := time.Now().Add(time.Minute)
				for sc.Snapshot().Clusters[name].Endpoints[0].Addr != want {
					if time.Now().After(deadline) {
						b.Fatalf("update %d not applied within a minute", gen)
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
}
