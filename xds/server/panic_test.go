package server

import (
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/sidecar/config"
)

// TestUpstreamPanicMode: with the mesh's NoPanicMode (the Consul source)
// every upstream cluster gets common_lb_config.healthy_panic_threshold {}
// as Consul's xDS server writes it, which the sidecar decodes as panic
// mode off (0%); without it (services.yaml) the cluster has no
// common_lb_config and Envoy's default, 50%.
func TestUpstreamPanicMode(t *testing.T) {
	svcs := []discovery.Service{
		{Name: "api", Protocol: discovery.ProtocolHTTP, Endpoints: []discovery.Endpoint{{Address: "10.0.0.1", Port: 80}}},
		{Name: "web", Sidecar: &discovery.Sidecar{Upstreams: []discovery.Upstream{{Service: "api", BindPort: 9001}}}},
	}
	tests := []struct {
		name      string
		noPanic   bool
		want      *cluster.Cluster_CommonLbConfig
		threshold float64
	}{
		{"consul: panic mode off", true, &cluster.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{}}, 0},
		{"services.yaml: Envoy's default", false, nil, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := discovery.NewMesh(svcs, discovery.Mesh{NoPanicMode: tt.noPanic})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := Translate(cat, "web")
			if err != nil {
				t.Fatal(err)
			}
			checkResources(t, snap)
			c := snap.GetResources(resource.ClusterType)["api"].(*cluster.Cluster)
			if diff := cmp.Diff(tt.want, c.GetCommonLbConfig(), protocmp.Transform()); diff != "" {
				t.Errorf("cluster api common_lb_config (-want +got):\n%s", diff)
			}
			dc, err := config.DecodeCluster(c)
			if err != nil {
				t.Fatal(err)
			}
			if dc.PanicThreshold != tt.threshold {
				t.Errorf("decoded panic threshold = %v, want %v", dc.PanicThreshold, tt.threshold)
			}
			if la := snap.GetResources(resource.ClusterType)[LocalAppCluster]; la != nil && la.(*cluster.Cluster).GetCommonLbConfig() != nil {
				t.Errorf("local_app cluster has common_lb_config %v, want none", la.(*cluster.Cluster).GetCommonLbConfig())
			}
		})
	}
}
