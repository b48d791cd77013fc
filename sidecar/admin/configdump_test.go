package admin

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
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
