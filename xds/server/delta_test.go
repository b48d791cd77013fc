package server

import (
	"context"
	"slices"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
)

func TestADSDelta(t *testing.T) {
	cat := testCatalog(t, nil)
	env := startServer(t, cat)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	stream, err := env.client.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web-sidecar"}
	resp := deltaRequest(t, stream, &discoverygrpc.DeltaDiscoveryRequest{Node: node, TypeUrl: resource.ClusterType})
	checkDelta(t, resp, wantVersion(t, cat, "web-sidecar", resource.ClusterType), []string{"api", "db", "local_app"})

	next := testCatalog(t, withCache)
	if err := env.srv.Update(ctx, next); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// Only the new cluster is sent: the others did not change.
	ack := &discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: resp.GetNonce()}
	checkDelta(t, deltaRequest(t, stream, ack), wantVersion(t, next, "web-sidecar", resource.ClusterType), []string{"cache"})
}

func deltaRequest(t *testing.T, stream discoverygrpc.AggregatedDiscoveryService_DeltaAggregatedResourcesClient, req *discoverygrpc.DeltaDiscoveryRequest) *discoverygrpc.DeltaDiscoveryResponse {
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

func checkDelta(t *testing.T, resp *discoverygrpc.DeltaDiscoveryResponse, version string, names []string) {
	t.Helper()
	if resp.GetSystemVersionInfo() != version {
		t.Errorf("system_version_info = %q, want %q", resp.GetSystemVersionInfo(), version)
	}
	var got []string
	for _, r := range resp.GetResources() {
		got = append(got, r.GetName())
	}
	slices.Sort(got)
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("resource names (-want +got):\n%s", diff)
	}
	if len(resp.GetRemovedResources()) != 0 {
		t.Errorf("removed resources = %v, want none", resp.GetRemovedResources())
	}
}
