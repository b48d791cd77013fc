package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// xdsServer is a stock go-control-plane ADS server, to show the sidecar
// works with any conformant control plane, and to record NACKs.
type xdsServer struct {
	addr  string
	cache cache.SnapshotCache
	mu    sync.Mutex
	nacks []string
}

func startXDS(t *testing.T) *xdsServer {
	t.Helper()
	x := &xdsServer{cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil)}
	cb := serverv3.CallbackFuncs{
		StreamRequestFunc: func(_ int64, r *discoveryv3.DiscoveryRequest) error {
			x.noteNACK(r.GetErrorDetail().GetMessage())
			return nil
		},
		StreamDeltaRequestFunc: func(_ int64, r *discoveryv3.DeltaDiscoveryRequest) error {
			x.noteNACK(r.GetErrorDetail().GetMessage())
			return nil
		},
	}
	srv := serverv3.NewServer(context.Background(), x.cache, cb)
	g := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x.addr = ln.Addr().String()
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	return x
}

func (x *xdsServer) noteNACK(msg string) {
	if msg == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.nacks = append(x.nacks, msg)
}

func (x *xdsServer) nacked(substr string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, n := range x.nacks {
		if strings.Contains(n, substr) {
			return true
		}
	}
	return false
}

// set publishes a listener on port routing to cluster "web" (EDS) whose
// endpoint is backendPort, with the given lb policy.
func (x *xdsServer) set(t *testing.T, version string, port, backendPort int, lb clusterv3.Cluster_LbPolicy) {
	t.Helper()
	router, _ := anypb.New(&routerv3.Router{})
	hcm, _ := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: "web",
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: "web", VirtualHosts: []*routev3.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []*routev3.Route{{
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web"}}},
			}}}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
	})
	lis := &listenerv3.Listener{Name: "web", Address: sockAddr(port), FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
	}}}}}
	cl := &clusterv3.Cluster{
		Name: "web", ConnectTimeout: durationpb.New(time.Second), LbPolicy: lb,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{
			ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		}},
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "web", Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: sockAddr(backendPort)}},
	}}}}}
	snap, err := cache.NewSnapshot(version, map[resource.Type][]types.Resource{
		resource.ListenerType: {lis}, resource.ClusterType: {cl}, resource.EndpointType: {cla},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.cache.SetSnapshot(context.Background(), "n1", snap); err != nil {
		t.Fatal(err)
	}
}

func sockAddr(port int) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

func TestBadResourceIsNACKedAndOldConfigServes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, mode := range []string{"sotw", "delta"} {
		t.Run(mode, func(t *testing.T) {
			x := startXDS(t)
			a, b := startBackend(t, "a"), startBackend(t, "b")
			port, admin := freePort(t), freePort(t)
			x.set(t, "1", port, a.port, clusterv3.Cluster_ROUND_ROBIN)
			args := []string{"sidecar", "--xds", x.addr, "--node-id", "n1", "--admin", fmt.Sprintf("127.0.0.1:%d", admin)}
			if mode == "delta" {
				args = append(args, "--delta")
			}
			sc := start(t, "sidecar", args...)
			waitReady(t, admin)
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			eventually(t, "traffic to a", func() bool { return seenAll(c, url, a) })

			// Only the cluster is bad; its endpoints (a separate EDS
			// resource) are unchanged, so the old cluster keeps serving a.
			x.set(t, "2", port, a.port, clusterv3.Cluster_CLUSTER_PROVIDED)
			eventually(t, "a NACK naming lb_policy", func() bool { return x.nacked(`cluster "web": lb_policy`) })
			if !strings.Contains(sc.log.String(), "lb_policy") {
				t.Errorf("sidecar log does not mention the rejected field:\n%s", sc.log.String())
			}
			for range 10 {
				if code, body, err := httpGet(c, url); err != nil || code != 200 || body != "a" {
					t.Fatalf("after the NACK: %d %q %v, want the old config serving a", code, body, err)
				}
			}
			x.set(t, "3", port, b.port, clusterv3.Cluster_ROUND_ROBIN)
			eventually(t, "traffic to b after a good update", func() bool { return seenAll(c, url, b) })
		})
	}
}
