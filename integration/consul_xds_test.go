package integration

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/hashicorp/consul/api"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/meshlb/meshlb/sidecar/config"
)

// consulL7Mesh registers, on an agent with ACLs (default deny), web (HTTP)
// with upstreams api (HTTP) and db (TCP), api in two versions behind a
// service-resolver, a 90/10 service-splitter and a service-router, and
// intentions: web → api L7 (GET allowed, /admin denied), web → db allow,
// db → api deny. Every port is a fresh loopback port.
func consulL7Mesh(t *testing.T, a *consulAgent) {
	t.Helper()
	a.setProtocol("web", "http")
	a.setProtocol("api", "http")
	a.setProtocol("db", "tcp")
	a.setEntry(&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "api", DefaultSubset: "v1",
		ConnectTimeout: 3 * time.Second,
		Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}})
	a.setEntry(&api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "api", Splits: []api.ServiceSplit{
		{Weight: 90, ServiceSubset: "v1"}, {Weight: 10, ServiceSubset: "v2"}}})
	a.setEntry(&api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "api", Routes: []api.ServiceRoute{{
		Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{PathPrefix: "/v2/"}},
		Destination: &api.ServiceRouteDestination{ServiceSubset: "v2", PrefixRewrite: "/",
			NumRetries: 2, RetryOnConnectFailure: true, RetryOnStatusCodes: []uint32{503}},
	}}})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api", Sources: []*api.SourceIntention{
		{Name: "web", Permissions: []*api.IntentionPermission{
			{Action: api.IntentionActionDeny, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/admin"}},
			{Action: api.IntentionActionAllow, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/", Methods: []string{"GET"}}},
		}},
		{Name: "db", Action: api.IntentionActionDeny},
	}})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "db", Sources: []*api.SourceIntention{
		{Name: "web", Action: api.IntentionActionAllow}}})
	a.registerWithSidecar("web", "web", freePort(t), freePort(t), nil,
		api.Upstream{DestinationName: "api", LocalBindPort: freePort(t)},
		api.Upstream{DestinationName: "db", LocalBindPort: freePort(t)})
	a.registerWithSidecar("api", "api-v1", freePort(t), freePort(t), map[string]string{"version": "v1"})
	a.registerWithSidecar("api", "api-v2", freePort(t), freePort(t), map[string]string{"version": "v2"})
	a.registerWithSidecar("db", "db", freePort(t), freePort(t), nil)
}

// Every resource Consul 1.21's own xDS server sends to the sidecars of a
// mesh with HTTP and TCP services, a splitter, a router, a resolver, L4
// and L7 intentions and ACL default deny decodes with sidecar/config: no
// resource would be NACKed. The resources are recorded from the real
// agent, as Envoy would receive them (delta ADS, node id = proxy service
// id, token in x-consul-token). Every field and filter they set must be
// in the list of docs/consul.md with its status (checkFieldList).
func TestConsulXDSResourcesDecode(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withACLs, withGRPC(t, &grpcAddr))
	consulL7Mesh(t, a)
	consulKnobsMesh(t, a)
	var nacks []string
	kinds := map[string]int{}
	fields := fieldSet{}
	proxies := append([]struct{ service, proxy string }{
		{"web", "web-sidecar-proxy"}, {"api", "api-v1-sidecar-proxy"}, {"db", "db-sidecar-proxy"},
	}, knobProxies...)
	for _, p := range proxies {
		got := recordXDS(t, grpcAddr, p.proxy, p.service, a.serviceToken(p.service), time.Second)
		t.Logf("%s: recorded %v", p.proxy, got.counts())
		got.save(t, os.Getenv("MESHLB_XDS_RECORD_DIR"), p.proxy)
		for typeURL, byName := range got {
			kinds[typeURL] += len(byName)
			for name, res := range byName {
				if err := decodeResource(typeURL, res); err != nil {
					nacks = append(nacks, fmt.Sprintf("%s: %s %q: %v", p.proxy, typeURL, name, err))
				}
				if m, err := res.UnmarshalNew(); err == nil {
					fields.add(m.ProtoReflect())
				}
			}
		}
	}
	for _, typeURL := range []string{typeCluster, typeEndpoint, typeListener, typeRoute} {
		if kinds[typeURL] == 0 {
			t.Errorf("Consul sent no %s", typeURL)
		}
	}
	sort.Strings(nacks)
	for _, n := range nacks {
		t.Errorf("would NACK: %s", n)
	}
	checkFieldList(t, fields)
}

// decodeResource decodes one recorded resource as the sidecar's xDS
// client does.
func decodeResource(typeURL string, res *anypb.Any) error {
	m, err := res.UnmarshalNew()
	if err != nil {
		return err
	}
	switch r := m.(type) {
	case *clusterv3.Cluster:
		_, err = config.DecodeCluster(r)
	case *endpointv3.ClusterLoadAssignment:
		_, err = config.DecodeLoadAssignment(r)
	case *listenerv3.Listener:
		_, err = config.DecodeListener(r)
	case *routev3.RouteConfiguration:
		_, err = config.DecodeRouteConfig(r)
	default:
		err = fmt.Errorf("unexpected type %s", typeURL)
	}
	return err
}
