package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestConfigDumpQuery checks /config_dump's query parameters over HTTP:
// the statuses and content types Envoy answers, and that without a
// querier a query is refused rather than ignored.
func TestConfigDumpQuery(t *testing.T) {
	const dump = `{"configs": [
	  {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
	   "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "be"}}]},
	  {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
	   "dynamic_endpoint_configs": [{"endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name": "be"}}]}]}`
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	set := statsSet("127.0.0.1:9")
	set.Dump = []byte(dump)
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	h := Handler(sc, WithDumpQuery(config.QueryDump))
	tests := []struct {
		path    string
		code    int
		ctype   string
		want    string
		wantNot string
	}{
		{"/config_dump", 200, "application/json", `"dynamic_active_clusters"`, "EndpointsConfigDump"},
		{"/config_dump?include_eds", 200, "application/json", "EndpointsConfigDump", ""},
		{"/config_dump?resource=dynamic_active_clusters&mask=cluster.name", 200, "application/json", "ClustersConfigDump.DynamicCluster", ""},
		{"/config_dump?name_regex=other", 200, "application/json", "ClustersConfigDump", `"be"`},
		{"/config_dump?resource=dynamic_nothing", 404, "text/plain", "dynamic_nothing not found in config dump", ""},
		{"/config_dump?name_regex=(", 400, "text/plain", "Error while parsing name_regex", ""},
		{"/config_dump?mask=nothing", 400, "text/plain", "could not be successfully applied", ""},
	}
	for _, tt := range tests {
		rec := record(h, "GET", tt.path)
		body := rec.Body.String()
		if rec.Code != tt.code || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.ctype) ||
			!strings.Contains(body, tt.want) || (tt.wantNot != "" && strings.Contains(body, tt.wantNot)) {
			t.Errorf("GET %s = %d %s %q; want %d %s with %q, without %q", tt.path, rec.Code, rec.Header().Get("Content-Type"), body,
				tt.code, tt.ctype, tt.want, tt.wantNot)
		}
	}
	plain := Handler(sc)
	if rec := record(plain, "GET", "/config_dump?resource=dynamic_active_clusters"); rec.Code != http.StatusNotImplemented {
		t.Errorf("a query without a querier answered %d, want 501", rec.Code)
	}
	if rec := record(plain, "GET", "/config_dump"); rec.Code != 200 || rec.Body.String() != dump {
		t.Errorf("/config_dump without a querier = %d %q, want the dump as it is", rec.Code, rec.Body.String())
	}
}

func record(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

// TestConfigDumpIncludeEDS: /config_dump?include_eds renders the
// endpoints as Envoy's ConfigDumpHandler::dumpEndpointConfigs does, from
// the endpoints as they are now, not from the load assignments received:
// a CDS cluster's assignment in dynamic_endpoint_configs, named by its
// EDS service name, with the overprovisioning factor (Envoy's default
// 140), each endpoint's weight in balancing (here an operator's) and its
// coarse health (an EDS-degraded endpoint DEGRADED, one EDS says is
// unhealthy UNHEALTHY), an empty health_check_config, and no
// version_info or last_updated (Envoy sets neither); a static_resources
// cluster's in static_endpoint_configs, first.
func TestConfigDumpIncludeEDS(t *testing.T) {
	const dump = `{"configs": [
	  {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
	   "static_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "local",
	      "load_assignment": {"cluster_name": "local", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 8}}}}]}]}}}],
	   "dynamic_active_clusters": [{"version_info": "v7", "cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "be",
	      "type": "EDS", "eds_cluster_config": {"service_name": "be-svc"}}}]},
	  {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
	   "dynamic_endpoint_configs": [{"version_info": "v7", "endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
	      "cluster_name": "be-svc", "endpoints": [{"locality": {"zone": "z1"}, "priority": 0, "lb_endpoints": [
	        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9}}}, "load_balancing_weight": 3},
	        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.2", "port_value": 9}}}, "health_status": "DEGRADED"},
	        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.3", "port_value": 9}}}, "health_status": "UNHEALTHY"}]}]}}]}]}`
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	set := statsSet("127.0.0.1:9")
	set.Clusters[0].Static.Endpoints = []config.Endpoint{{Address: "127.0.0.1:9", Weight: 3, Locality: "/z1/"},
		{Address: "127.0.0.2:9", Weight: 1, Health: spec.Degraded, Locality: "/z1/"}, {Address: "127.0.0.3:9", Weight: 1, Health: spec.Unhealthy, Locality: "/z1/"}}
	local := set.Clusters[0]
	local.Name, local.Static = "local", &config.LoadAssignment{ClusterName: "local", Endpoints: []config.Endpoint{{Address: "127.0.0.1:8", Weight: 1}}}
	set.Clusters = append(set.Clusters, local)
	set.Dump = []byte(dump)
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	h := Handler(sc, WithDumpQuery(config.QueryDump))
	if code, body := post(t, h, "/endpoint/weight?cluster=be&address=127.0.0.1:9&weight=7"); code != 200 {
		t.Fatalf("setting a weight: %d %s", code, body)
	}
	rec := record(h, "GET", "/config_dump?include_eds")
	var got struct {
		Configs []json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Configs) != 2 {
		t.Fatalf("GET /config_dump?include_eds = %d %s (%v)", rec.Code, rec.Body, err)
	}
	want := `{
	  "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
	  "static_endpoint_configs": [{"endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
	    "cluster_name": "local", "policy": {"overprovisioning_factor": 140},
	    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 8}}, "health_check_config": {}},
	      "health_status": "HEALTHY", "load_balancing_weight": 1}]}]}}],
	  "dynamic_endpoint_configs": [{"endpoint_config": {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
	    "cluster_name": "be-svc", "policy": {"overprovisioning_factor": 140},
	    "endpoints": [{"locality": {"zone": "z1"}, "lb_endpoints": [
	      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9}}, "health_check_config": {}}, "health_status": "HEALTHY", "load_balancing_weight": 7},
	      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.2", "port_value": 9}}, "health_check_config": {}}, "health_status": "DEGRADED", "load_balancing_weight": 1},
	      {"endpoint": {"address": {"socket_address": {"address": "127.0.0.3", "port_value": 9}}, "health_check_config": {}}, "health_status": "UNHEALTHY", "load_balancing_weight": 1}]}]}}]
	}`
	var wantV, gotV any
	json.Unmarshal([]byte(want), &wantV)
	json.Unmarshal(got.Configs[1], &gotV)
	if diff := cmp.Diff(wantV, gotV); diff != "" {
		t.Errorf("endpoints section (-want +got):\n%s", diff)
	}
	if rec := record(h, "GET", "/config_dump"); strings.Contains(rec.Body.String(), "EndpointsConfigDump") {
		t.Error("/config_dump without include_eds has the endpoints")
	}
}
