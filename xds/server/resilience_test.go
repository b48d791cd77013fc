package server

import (
	"context"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/discovery/file"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// haServices is a services.yaml whose api service has every HA key.
const haServices = `services:
- name: api
  protocol: http
  endpoints: [{address: 10.0.0.1, port: 8080}, {address: 10.0.0.2, port: 8080}]
  lb_policy: ring_hash
  hash_policy: [{header: x-user}, {source_ip: true, terminal: true}]
  health_check: {path: /healthz, interval: 1s, timeout: 500ms, unhealthy_threshold: 3}
  outlier_detection: {consecutive_5xx: 3, base_ejection_time: 10s}
  retries: {on: [connect-failure, reset], num_retries: 2, per_try_timeout: 250ms}
  timeout: 3s
- name: web
  protocol: http
  endpoints: [{address: 10.0.0.9, port: 8080}]
  sidecar: {upstreams: [{service: api, bind_port: 9001}]}
`

// TestServicesYAMLResilience: a services.yaml service's HA keys reach the
// caller's sidecar through the control server (ADS), as a cluster and a
// route the sidecar decodes into the policy, health check, outlier
// detection, retries, timeout and hash policies written.
func TestServicesYAMLResilience(t *testing.T) {
	cat, err := file.Parse("services.yaml", []byte(haServices))
	if err != nil {
		t.Fatal(err)
	}
	env := startServer(t, cat)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	stream, err := env.client.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web"}
	var c *config.Cluster
	for _, a := range sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{Node: node, TypeUrl: resource.ClusterType}).GetResources() {
		var pb cluster.Cluster
		if err := a.UnmarshalTo(&pb); err != nil {
			t.Fatal(err)
		}
		if pb.GetName() == "api" {
			if c, err = config.DecodeCluster(&pb); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c == nil {
		t.Fatal("no cluster api")
	}
	got := struct {
		Policy  spec.LBPolicy
		Path    string
		Every   time.Duration
		Down    uint32
		Ejects  uint32
		Ejected time.Duration
	}{c.LBPolicy, c.HealthCheck.HTTP.Path, c.HealthCheck.Interval, c.HealthCheck.UnhealthyThreshold,
		c.Outlier.Consecutive5xx, c.Outlier.BaseEjectionTime}
	want := got
	want.Policy, want.Path, want.Every, want.Down, want.Ejects, want.Ejected = "ring_hash", "/healthz", time.Second, 3, 3, 10*time.Second
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cluster api (-want +got):\n%s", diff)
	}

	resp := sotwRequest(t, stream, &discoverygrpc.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: []string{UpstreamName("api")}})
	if len(resp.GetResources()) != 1 {
		t.Fatalf("%d route tables, want 1", len(resp.GetResources()))
	}
	var pb route.RouteConfiguration
	if err := resp.GetResources()[0].UnmarshalTo(&pb); err != nil {
		t.Fatal(err)
	}
	rc, err := config.DecodeRouteConfig(&pb)
	if err != nil {
		t.Fatal(err)
	}
	a := rc.VirtualHosts[0].Routes[0].Action
	wantAction := &config.RouteAction{Cluster: "api", Timeout: 3 * time.Second,
		Retry:      &config.RetryPolicy{On: []string{"connect-failure", "reset"}, NumRetries: 2, PerTry: 250 * time.Millisecond},
		HashPolicy: []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user"}, {Kind: spec.HashSourceIP, Terminal: true}}}
	if diff := cmp.Diff(wantAction, a); diff != "" {
		t.Errorf("route to api (-want +got):\n%s", diff)
	}
}

// TestUpstreamBalanceTranslation: a service's balancing (a Consul
// resolver's load_balancer) and an upstream's passive health check become
// the caller's cluster lb_policy and outlier_detection and the route's
// hash_policy, as Consul's xDS server writes them, valid for Envoy.
func TestUpstreamBalanceTranslation(t *testing.T) {
	zero := 0
	cat := mustCatalog(t, []discovery.Service{
		{Name: "api", Protocol: discovery.ProtocolHTTP,
			Endpoints: []discovery.Endpoint{{Address: "10.0.0.1", Port: 80}, {Address: "10.0.0.2", Port: 80}},
			Resilience: &discovery.Resilience{LBPolicy: discovery.LBRingHash, MinRingSize: 2048, HashPolicies: []discovery.HashPolicy{
				{Header: "x-user"}, {Cookie: "id", CookieTTL: time.Hour, CookiePath: "/"}, {Cookie: "s", CookieSession: true}}}},
		{Name: "web", Sidecar: &discovery.Sidecar{Upstreams: []discovery.Upstream{{Service: "api", BindPort: 9001,
			PassiveHealthCheck: &discovery.Outlier{Consecutive5xx: 3, Enforcing5xx: &zero, Interval: time.Second}}}}},
	})
	snap, err := Translate(cat, "web")
	if err != nil {
		t.Fatal(err)
	}
	checkResources(t, snap)
	c := snap.GetResources(resource.ClusterType)["api"].(*cluster.Cluster)
	if c.GetLbPolicy() != cluster.Cluster_RING_HASH || c.GetRingHashLbConfig().GetMinimumRingSize().GetValue() != 2048 {
		t.Errorf("cluster api: lb_policy %v, ring %v; want RING_HASH, minimum 2048", c.GetLbPolicy(), c.GetRingHashLbConfig())
	}
	od := c.GetOutlierDetection()
	if od.GetConsecutive_5Xx().GetValue() != 3 || od.GetEnforcingConsecutive_5Xx() == nil || od.GetEnforcingConsecutive_5Xx().GetValue() != 0 ||
		od.GetInterval().AsDuration() != time.Second {
		t.Errorf("cluster api outlier_detection = %v, want consecutive_5xx 3, enforcing 0, interval 1s", od)
	}
	rc := snap.GetResources(resource.RouteType)[UpstreamName("api")].(*route.RouteConfiguration)
	got := rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetHashPolicy()
	want := []*route.RouteAction_HashPolicy{
		{PolicySpecifier: &route.RouteAction_HashPolicy_Header_{Header: &route.RouteAction_HashPolicy_Header{HeaderName: "x-user"}}},
		{PolicySpecifier: &route.RouteAction_HashPolicy_Cookie_{Cookie: &route.RouteAction_HashPolicy_Cookie{Name: "id", Path: "/", Ttl: durationpb.New(time.Hour)}}},
		{PolicySpecifier: &route.RouteAction_HashPolicy_Cookie_{Cookie: &route.RouteAction_HashPolicy_Cookie{Name: "s", Ttl: durationpb.New(0)}}},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("route hash_policy (-want +got):\n%s", diff)
	}
}
