package config

import (
	"errors"
	"strings"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// queryDumpFixture is the dump of one listener (web), one route
// configuration (rc), clusters api and web with a load assignment each.
func queryDumpFixture(t *testing.T) []byte {
	t.Helper()
	l := fromYAML(t, tcpListener+"      cluster: web\n", &listenerv3.Listener{})
	rc := oneRoute(t, "match: {prefix: /}\nroute: {cluster: web}")
	var cs []*clusterv3.Cluster
	var las []*endpointv3.ClusterLoadAssignment
	for _, name := range []string{"api", "web"} {
		cs = append(cs, fromYAML(t, "{name: "+name+", type: EDS, connect_timeout: 1s, eds_cluster_config: {eds_config: {ads: {}}}}", &clusterv3.Cluster{}))
		las = append(las, fromYAML(t, "{cluster_name: "+name+", endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}}]}]}",
			&endpointv3.ClusterLoadAssignment{}))
	}
	out, err := Dump([]*listenerv3.Listener{l}, []*routev3.RouteConfiguration{rc}, cs, las)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// describeDump summarizes a dump: per config its type, and for sections
// the names of the resources in each repeated field, as
// "ClustersConfigDump dynamic_active_clusters=api,web".
func describeDump(t *testing.T, data []byte) []string {
	t.Helper()
	d := &adminv3.ConfigDump{}
	if err := protojson.Unmarshal(data, d); err != nil {
		t.Fatalf("parsing %s: %v", data, err)
	}
	var out []string
	for _, a := range d.GetConfigs() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		desc := string(m.ProtoReflect().Descriptor().Name())
		fields := m.ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if !fd.IsList() || !m.ProtoReflect().Has(fd) {
				continue
			}
			var names []string
			list := m.ProtoReflect().Get(fd).List()
			for j := range list.Len() {
				name, _, err := resourceName(list.Get(j).Message())
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
			}
			desc += " " + string(fd.Name()) + "=" + strings.Join(names, ",")
		}
		if name, ok, _ := resourceName(m.ProtoReflect()); ok {
			desc += " " + name
		}
		out = append(out, desc)
	}
	return out
}

// TestQueryDump checks each of Envoy's /config_dump query parameters,
// alone and together, on the sections and resources they keep.
func TestQueryDump(t *testing.T) {
	dump := queryDumpFixture(t)
	if !strings.Contains(string(dump), `"dynamic_active_clusters"`) {
		t.Fatalf("the dump does not use proto field names, as Envoy's does:\n%s", dump)
	}
	const (
		clusters  = "ClustersConfigDump dynamic_active_clusters=api,web"
		endpoints = "EndpointsConfigDump dynamic_endpoint_configs=api,web"
		listeners = "ListenersConfigDump dynamic_listeners=web"
		routes    = "RoutesConfigDump dynamic_route_configs=rc"
	)
	tests := []struct {
		name string
		q    spec.DumpQuery
		want []string
	}{
		{"no query leaves out the endpoints", spec.DumpQuery{}, []string{clusters, listeners, routes}},
		{"include_eds", spec.DumpQuery{IncludeEDS: true}, []string{clusters, endpoints, listeners, routes}},
		{"resource", spec.DumpQuery{Resource: "dynamic_active_clusters"}, []string{"DynamicCluster api", "DynamicCluster web"}},
		{"resource of the endpoints needs include_eds", spec.DumpQuery{Resource: "dynamic_endpoint_configs", IncludeEDS: true},
			[]string{"DynamicEndpointConfig api", "DynamicEndpointConfig web"}},
		{"resource and name_regex", spec.DumpQuery{Resource: "dynamic_active_clusters", NameRegex: "a.i"}, []string{"DynamicCluster api"}},
		{"name_regex matches whole names", spec.DumpQuery{NameRegex: "we"},
			[]string{"ClustersConfigDump", "ListenersConfigDump", "RoutesConfigDump"}},
		{"name_regex", spec.DumpQuery{NameRegex: "web|rc", IncludeEDS: true}, []string{
			"ClustersConfigDump dynamic_active_clusters=web", "EndpointsConfigDump dynamic_endpoint_configs=web", listeners, routes}},
		{"mask keeps the sections it is valid for", spec.DumpQuery{Mask: "dynamic_active_clusters"}, []string{clusters}},
		{"mask of two fields", spec.DumpQuery{Mask: "dynamic_listeners,version_info"}, []string{listeners}},
		{"mask and name_regex", spec.DumpQuery{Mask: "dynamic_active_clusters", NameRegex: "api"},
			[]string{"ClustersConfigDump dynamic_active_clusters=api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := QueryDump(dump, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, describeDump(t, out)); diff != "" {
				t.Errorf("QueryDump(%+v) (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

// TestQueryDumpMask checks that a mask trims what it does not name, into
// the resource an element wraps with ?resource=.
func TestQueryDumpMask(t *testing.T) {
	dump := queryDumpFixture(t)
	tests := []struct {
		name string
		q    spec.DumpQuery
		want string
	}{
		{"into the cluster", spec.DumpQuery{Resource: "dynamic_active_clusters", Mask: "cluster.name,cluster.connect_timeout", NameRegex: "web"},
			`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster","cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"web","connect_timeout":"1s"}}]}`},
		{"the whole cluster", spec.DumpQuery{Resource: "dynamic_active_clusters", Mask: "cluster", NameRegex: "web"},
			`"eds_cluster_config"`},
		{"a field of the element", spec.DumpQuery{Resource: "dynamic_listeners", Mask: "name"},
			`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener","name":"web"}]}`},
		{"a section", spec.DumpQuery{Mask: "version_info"},
			`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump"},{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump"}]}`}, // RoutesConfigDump has no version_info
		{"no match", spec.DumpQuery{Resource: "dynamic_active_clusters", NameRegex: "none"}, `{"configs":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := QueryDump(dump, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			compact := strings.Join(strings.Fields(string(out)), "")
			if !strings.Contains(compact, tt.want) {
				t.Errorf("QueryDump(%+v) = %s, want it to hold %s", tt.q, compact, tt.want)
			}
		})
	}
}

// TestQueryDumpErrors checks the answers Envoy gives a bad query: 404 for
// a resource no section has, 400 for the rest.
func TestQueryDumpErrors(t *testing.T) {
	dump := queryDumpFixture(t)
	tests := []struct {
		name     string
		q        spec.DumpQuery
		notFound bool
		want     string
	}{
		{"unknown resource", spec.DumpQuery{Resource: "dynamic_nothing"}, true, "dynamic_nothing not found in config dump"},
		{"endpoints without include_eds", spec.DumpQuery{Resource: "dynamic_endpoint_configs"}, true, "not found"},
		{"not repeated", spec.DumpQuery{Resource: "version_info"}, false, "version_info is not a repeated field. Use ?mask=version_info to get only this field"},
		{"mask valid for no section", spec.DumpQuery{Mask: "nothing"}, false, "FieldMask nothing could not be successfully applied to any configs."},
		{"mask of fields of two sections", spec.DumpQuery{Mask: "dynamic_listeners,dynamic_route_configs"}, false, "could not be successfully applied to any configs"},
		{"mask into a repeated field", spec.DumpQuery{Resource: "dynamic_active_clusters", Mask: "cluster.load_assignment.endpoints.priority"}, false, "could not be successfully used"},
		{"mask naming no field of the resource", spec.DumpQuery{Resource: "dynamic_active_clusters", Mask: "cluster.nothing"}, false, "could not be successfully used"},
		{"bad name_regex", spec.DumpQuery{NameRegex: "("}, false, "Error while parsing name_regex from ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := QueryDump(dump, tt.q)
			var qe *spec.DumpQueryError
			if !errors.As(err, &qe) {
				t.Fatalf("QueryDump(%+v) = %s, %v; want a DumpQueryError", tt.q, out, err)
			}
			if qe.NotFound != tt.notFound || !strings.Contains(qe.Msg, tt.want) {
				t.Errorf("QueryDump(%+v) error = %+v, want NotFound %v and %q", tt.q, qe, tt.notFound, tt.want)
			}
		})
	}
}
