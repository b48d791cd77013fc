package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	// Types Consul sends that nothing else here registers, for save.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_http1_bridge/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_stats/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_to_metadata/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Type URLs of the resources Consul's xDS server sends.
const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

// recorded is every resource a node was sent, by type URL and name.
type recorded map[string]map[string]*anypb.Any

// recordXDS connects to Consul's xDS server at grpcAddr as node (a proxy
// service id) with token in x-consul-token, as Envoy does: delta ADS,
// clusters and listeners by wildcard, then the endpoints and routes they
// name. It ACKs every response (it only records; decoding is the
// caller's) and returns once clusters and listeners have arrived, every
// subscribed name has, and the stream has then been quiet for quiet.
func recordXDS(t *testing.T, grpcAddr, node, cluster, token string, quiet time.Duration) recorded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-consul-token", token)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatalf("opening delta ADS to %s: %v", grpcAddr, err)
	}
	r := &recorder{t: t, stream: stream, got: recorded{}, subscribed: map[string]map[string]bool{}}
	r.send(&discoveryv3.DeltaDiscoveryRequest{Node: &corev3.Node{Id: node, Cluster: cluster}, TypeUrl: typeCluster})
	r.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeListener})
	msgs := make(chan *discoveryv3.DeltaDiscoveryResponse)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case m := <-msgs:
			r.handle(m)
		case err := <-errc:
			t.Fatalf("delta ADS stream of %s: %v (recorded so far: %v)", node, err, r.got.counts())
		case <-time.After(quiet):
			if r.complete() {
				cancel()
				return r.got
			}
		case <-ctx.Done():
			t.Fatalf("recording %s: no complete configuration within %v (recorded: %v)", node, waitTimeout, r.got.counts())
		}
	}
}

type recorder struct {
	t          *testing.T
	stream     discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	got        recorded
	subscribed map[string]map[string]bool // EDS and RDS names asked for
}

func (r *recorder) send(req *discoveryv3.DeltaDiscoveryRequest) {
	if err := r.stream.Send(req); err != nil && !errors.Is(err, context.Canceled) {
		r.t.Fatalf("sending %s request: %v", req.GetTypeUrl(), err)
	}
}

// handle records a response, ACKs it and subscribes to the names it needs.
func (r *recorder) handle(m *discoveryv3.DeltaDiscoveryResponse) {
	byName := r.got[m.GetTypeUrl()]
	if byName == nil {
		byName = map[string]*anypb.Any{}
		r.got[m.GetTypeUrl()] = byName
	}
	for _, res := range m.GetResources() {
		byName[res.GetName()] = res.GetResource()
	}
	for _, name := range m.GetRemovedResources() {
		delete(byName, name)
	}
	r.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: m.GetTypeUrl(), ResponseNonce: m.GetNonce()})
	switch m.GetTypeUrl() {
	case typeCluster:
		r.subscribe(typeEndpoint, edsNames(r.t, m.GetResources()))
	case typeListener:
		r.subscribe(typeRoute, rdsNames(r.t, m.GetResources()))
	}
}

// subscribe asks for the names not asked for yet.
func (r *recorder) subscribe(typeURL string, names []string) {
	seen := r.subscribed[typeURL]
	if seen == nil {
		seen = map[string]bool{}
		r.subscribed[typeURL] = seen
	}
	var add []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			add = append(add, n)
		}
	}
	if len(add) > 0 {
		r.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL, ResourceNamesSubscribe: add})
	}
}

// complete reports whether clusters and listeners arrived, and every
// subscribed endpoint set and route configuration.
func (r *recorder) complete() bool {
	if len(r.got[typeCluster]) == 0 || len(r.got[typeListener]) == 0 {
		return false
	}
	for typeURL, names := range r.subscribed {
		for n := range names {
			if r.got[typeURL][n] == nil {
				return false
			}
		}
	}
	return true
}

// counts summarizes a recording for messages.
func (g recorded) counts() map[string]int {
	out := map[string]int{}
	for typeURL, byName := range g {
		out[typeURL[len("type.googleapis.com/envoy.config."):]] = len(byName)
	}
	return out
}

// edsNames returns the EDS service names of the EDS clusters in rs.
func edsNames(t *testing.T, rs []*discoveryv3.Resource) []string {
	var out []string
	for _, res := range rs {
		c := &clusterv3.Cluster{}
		if err := res.GetResource().UnmarshalTo(c); err != nil {
			t.Fatalf("decoding cluster %s: %v", res.GetName(), err)
		}
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		out = append(out, name)
	}
	return out
}

// rdsNames returns the route configurations the listeners in rs name
// through an HTTP connection manager's rds.
func rdsNames(t *testing.T, rs []*discoveryv3.Resource) []string {
	var out []string
	for _, res := range rs {
		l := &listenerv3.Listener{}
		if err := res.GetResource().UnmarshalTo(l); err != nil {
			t.Fatalf("decoding listener %s: %v", res.GetName(), err)
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(hcm) != nil {
					continue
				}
				if n := hcm.GetRds().GetRouteConfigName(); n != "" && !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// save writes each recorded resource as JSON into dir/node/, when dir is
// set (MESHLB_XDS_RECORD_DIR, to read what Consul sends).
func (g recorded) save(t *testing.T, dir, node string) {
	if dir == "" {
		return
	}
	d := filepath.Join(dir, node)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for typeURL, byName := range g {
		for name, res := range byName {
			b, err := protojson.MarshalOptions{Multiline: true}.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			kind := typeURL[strings.LastIndex(typeURL, ".")+1:]
			file := kind + "-" + strings.NewReplacer("/", "_", ":", "_").Replace(name) + ".json"
			if err := os.WriteFile(filepath.Join(d, file), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
