package config

import (
	"bytes"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
)

// dumpSections is a parsed config dump, by section.
type dumpSections struct {
	clusters  *adminv3.ClustersConfigDump
	endpoints *adminv3.EndpointsConfigDump
	listeners *adminv3.ListenersConfigDump
	routes    *adminv3.RoutesConfigDump
}

// parseDump parses a config dump, which must hold the four sections in
// Envoy's order.
func parseDump(t *testing.T, data []byte) dumpSections {
	t.Helper()
	d := &adminv3.ConfigDump{}
	if err := protojson.Unmarshal(data, d); err != nil {
		t.Fatalf("parsing dump: %v\n%s", err, data)
	}
	s := dumpSections{&adminv3.ClustersConfigDump{}, &adminv3.EndpointsConfigDump{},
		&adminv3.ListenersConfigDump{}, &adminv3.RoutesConfigDump{}}
	if len(d.GetConfigs()) != 4 {
		t.Fatalf("dump has %d configs, want 4", len(d.GetConfigs()))
	}
	for i, m := range []proto.Message{s.clusters, s.endpoints, s.listeners, s.routes} {
		if err := d.GetConfigs()[i].UnmarshalTo(m); err != nil {
			t.Fatalf("configs[%d]: %v", i, err)
		}
	}
	return s
}

func TestDump(t *testing.T) {
	l := fromYAML(t, tcpListener+"      cluster: be\n", &listenerv3.Listener{})
	rc := oneRoute(t, "match: {prefix: /}\nroute: {cluster: be}")
	c := fromYAML(t, "{name: be, type: EDS, eds_cluster_config: {eds_config: {ads: {}}}}", &clusterv3.Cluster{})
	cla := fromYAML(t, "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}}]}]}",
		&endpointv3.ClusterLoadAssignment{})
	out, err := Dump([]*listenerv3.Listener{l}, []*routev3.RouteConfiguration{rc}, []*clusterv3.Cluster{c},
		[]*endpointv3.ClusterLoadAssignment{cla})
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	again, err := Dump([]*listenerv3.Listener{l}, []*routev3.RouteConfiguration{rc}, []*clusterv3.Cluster{c},
		[]*endpointv3.ClusterLoadAssignment{cla})
	if err != nil || !bytes.Equal(out, again) {
		t.Errorf("Dump is not stable: %v\n%s\n%s", err, out, again)
	}
	d := parseDump(t, out)
	tests := []struct {
		name      string
		got, want proto.Message
	}{
		{"listener", unpackAny(t, d.listeners.GetDynamicListeners()[0].GetActiveState().GetListener()), l},
		{"route", unpackAny(t, d.routes.GetDynamicRouteConfigs()[0].GetRouteConfig()), rc},
		{"cluster", unpackAny(t, d.clusters.GetDynamicActiveClusters()[0].GetCluster()), c},
		{"endpoints", unpackAny(t, d.endpoints.GetDynamicEndpointConfigs()[0].GetEndpointConfig()), cla},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got, protocmp.Transform()); diff != "" {
				t.Errorf("dumped resource mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if name := d.listeners.GetDynamicListeners()[0].GetName(); name != "web" {
		t.Errorf("dynamic listener name: got %q, want %q", name, "web")
	}
}

func TestDumpEmpty(t *testing.T) {
	out, err := Dump(nil, nil, nil, nil)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	parseDump(t, out)
}

func TestDumpUnknownType(t *testing.T) {
	l := fromYAML(t, tcpListener+"      cluster: be\n", &listenerv3.Listener{})
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: corsType}}
	if _, err := Dump([]*listenerv3.Listener{l}, nil, nil, nil); err == nil {
		t.Error("Dump of an unregistered type succeeded, want an error")
	}
}

func unpackAny(t *testing.T, a *anypb.Any) proto.Message {
	t.Helper()
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatalf("unpacking %s: %v", a.GetTypeUrl(), err)
	}
	return m
}
