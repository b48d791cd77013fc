package server

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshlb/meshlb/discovery"
)

const testTimeout = 10 * time.Second

// xdsEnv is a Server served over gRPC on a loopback port, with a client.
type xdsEnv struct {
	srv    *Server
	client discoverygrpc.AggregatedDiscoveryServiceClient
	warns  chan slog.Record
}

// startServer serves a Server holding cat's snapshots; cleanup closes the
// client, then stops the server and checks that Serve returned nil.
func startServer(t *testing.T, cat *discovery.Catalog) *xdsEnv {
	t.Helper()
	warns := make(chan slog.Record, 16)
	env := &xdsEnv{srv: New(slog.New(warnHandler{warns})), warns: warns}
	if err := env.srv.Update(t.Context(), cat); err != nil {
		t.Fatalf("Update: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, lis, env.srv) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	env.client = discoverygrpc.NewAggregatedDiscoveryServiceClient(conn)
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return env
}

// warnHandler sends Warn and Error records to a channel, dropping them if
// it is full.
type warnHandler struct{ ch chan slog.Record }

func (h warnHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h warnHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h warnHandler) WithGroup(string) slog.Handler            { return h }
func (h warnHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		select {
		case h.ch <- r.Clone():
		default:
		}
	}
	return nil
}

// withCache adds a service "cache" and makes it an upstream of web.
func withCache(m map[string]*discovery.Service) {
	m["cache"] = &discovery.Service{Name: "cache", Endpoints: []discovery.Endpoint{{Address: "10.0.3.1", Port: 6379}}}
	sc := m["web"].Sidecar
	sc.Upstreams = append(sc.Upstreams, discovery.Upstream{Service: "cache", BindPort: 9003})
}

// wantVersion returns the version of typeURL in node's snapshot of cat.
func wantVersion(t *testing.T, cat *discovery.Catalog, node, typeURL string) string {
	t.Helper()
	snap, err := Translate(cat, node)
	if err != nil {
		t.Fatal(err)
	}
	return snap.GetVersion(typeURL)
}

func TestADSStateOfTheWorld(t *testing.T) {
	tests := []struct {
		name      string
		typeURL   string
		want      []string // resource names before the update
		wantAfter []string // and after web gains the upstream "cache"
	}{
		{name: "clusters", typeURL: resource.ClusterType,
			want: []string{"api", "db", "local_app"}, wantAfter: []string{"api", "cache", "db", "local_app"}},
		{name: "listeners", typeURL: resource.ListenerType,
			want:      []string{"inbound", "upstream:api", "upstream:db"},
			wantAfter: []string{"inbound", "upstream:api", "upstream:cache", "upstream:db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat := testCatalog(t, nil)
			env := startServer(t, cat)
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			stream, err := env.client.StreamAggregatedResources(ctx)
			if err != nil {
				t.Fatal(err)
			}
			node := &core.Node{Id: "web-sidecar"}
			resp := sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{Node: node, TypeUrl: tt.typeURL})
			checkSotw(t, resp, wantVersion(t, cat, "web-sidecar", tt.typeURL), tt.want)

			next := testCatalog(t, withCache)
			if err := env.srv.Update(ctx, next); err != nil {
				t.Fatalf("Update: %v", err)
			}
			ack := &discoverygrpc.DiscoveryRequest{TypeUrl: tt.typeURL, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
			checkSotw(t, sotwRequest(t, stream, ack), wantVersion(t, next, "web-sidecar", tt.typeURL), tt.wantAfter)
		})
	}
}

// sotwRequest sends req and returns the next response on stream.
func sotwRequest(t *testing.T, stream discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesClient, req *discoverygrpc.DiscoveryRequest) *discoverygrpc.DiscoveryResponse {
	t.Helper()
	if err := stream.Send(req); err != nil {
		t.Fatalf("Send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return resp
}

func checkSotw(t *testing.T, resp *discoverygrpc.DiscoveryResponse, version string, names []string) {
	t.Helper()
	if resp.GetVersionInfo() != version {
		t.Errorf("version = %q, want %q", resp.GetVersionInfo(), version)
	}
	var got []string
	for _, a := range resp.GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("unmarshaling %s: %v", a.GetTypeUrl(), err)
		}
		got = append(got, cache.GetResourceName(m))
	}
	slices.Sort(got)
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("resource names (-want +got):\n%s", diff)
	}
}

// TestADSNodeVanishesWhileConnected checks that a node that leaves the
// catalog while its sidecar is connected, and comes back, still gets
// updates on the stream it already has.
func TestADSNodeVanishesWhileConnected(t *testing.T) {
	cat := testCatalog(t, nil)
	env := startServer(t, cat)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	stream, err := env.client.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "worker"}
	resp := sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType})
	ack := &discoverygrpc.DiscoveryRequest{TypeUrl: resource.ClusterType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
	if err := stream.Send(ack); err != nil {
		t.Fatal(err)
	}
	// The stream handles requests in order, so once the LDS response is
	// here the CDS ACK has been handled and its watch is open.
	sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{TypeUrl: resource.ListenerType})

	gone := testCatalog(t, func(m map[string]*discovery.Service) { delete(m, "worker") })
	if err := env.srv.Update(ctx, gone); err != nil {
		t.Fatalf("Update without worker: %v", err)
	}
	if _, err := env.srv.Cache().GetSnapshot("worker"); err != nil {
		t.Fatalf("snapshot of connected node was cleared: %v", err)
	}
	// A change to worker's clusters, so that CDS, the type it watches, is
	// pushed.
	back := testCatalog(t, func(m map[string]*discovery.Service) { m["worker"].Sidecar.LocalPort = 7001 })
	if err := env.srv.Update(ctx, back); err != nil {
		t.Fatalf("Update with worker back: %v", err)
	}
	resp, err = stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	checkSotw(t, resp, wantVersion(t, back, "worker", resource.ClusterType), []string{"db", "local_app"})
}

func TestADSNACKLogged(t *testing.T) {
	env := startServer(t, testCatalog(t, nil))
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	stream, err := env.client.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "edge"}
	resp := sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType})
	nack := &discoverygrpc.DiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: resp.GetNonce(),
		ErrorDetail: &status.Status{Code: 3, Message: "cluster api: bad"}}
	if err := stream.Send(nack); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-env.warns:
		got := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "stream" {
				got[a.Key] = a.Value.String()
			}
			return true
		})
		want := map[string]string{"msg": "xds NACK", "node": "edge", "type": resource.ClusterType, "version": "", "err": "cluster api: bad"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("NACK log (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatal("no NACK logged")
	}
}

// TestADSEndpointChangeSendsOnlyEDS checks that on a state-of-the-world
// stream subscribed to every type, an endpoint change is pushed as EDS
// alone: the next change, to a cluster, arrives right after it.
func TestADSEndpointChangeSendsOnlyEDS(t *testing.T) {
	cat := testCatalog(t, nil)
	env := startServer(t, cat)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	stream, err := env.client.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web-sidecar"}
	names := map[string][]string{resource.EndpointType: {"api", "db"}, resource.RouteType: {"upstream:api"}}
	acks := map[string]*discoverygrpc.DiscoveryRequest{}
	for _, typ := range allTypes {
		resp := sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{Node: node, TypeUrl: typ, ResourceNames: names[typ]})
		acks[typ] = &discoverygrpc.DiscoveryRequest{TypeUrl: typ, VersionInfo: resp.GetVersionInfo(),
			ResponseNonce: resp.GetNonce(), ResourceNames: names[typ]}
	}
	for _, typ := range allTypes {
		if err := stream.Send(acks[typ]); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		edit     func(map[string]*discovery.Service)
		wantType string
	}{
		{func(m map[string]*discovery.Service) { m["api"].Endpoints[0].Port = 8081 }, resource.EndpointType},
		{func(m map[string]*discovery.Service) {
			m["api"].Endpoints[0].Port = 8081
			m["web"].Sidecar.LocalPort = 8181
		}, resource.ClusterType},
	}
	for i, st := range steps {
		if err := env.srv.Update(ctx, testCatalog(t, st.edit)); err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		if resp.GetTypeUrl() != st.wantType {
			t.Fatalf("push %d: type %s, want %s", i, resp.GetTypeUrl(), st.wantType)
		}
		ack := &discoverygrpc.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(),
			ResponseNonce: resp.GetNonce(), ResourceNames: names[resp.GetTypeUrl()]}
		if err := stream.Send(ack); err != nil {
			t.Fatal(err)
		}
	}
	// The two pushes, and not the responses to the first requests, are
	// push latency samples.
	var h dto.Metric
	if err := env.srv.metrics.pushLatency.Write(&h); err != nil {
		t.Fatal(err)
	}
	if got := h.GetHistogram().GetSampleCount(); got != uint64(len(steps)) {
		t.Errorf("push latency samples = %d, want %d", got, len(steps))
	}
}
