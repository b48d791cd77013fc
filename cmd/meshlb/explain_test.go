package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/admin"
	"github.com/meshlb/meshlb/sidecar/config"
)

const explainBootstrap = `
static_resources:
  listeners:
  - name: web
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    default_filter_chain:
      filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            virtual_hosts:
            - name: api
              domains: [api]
              routes:
              - {name: canary, match: {prefix: /, headers: [{name: x-canary, string_match: {exact: "1"}}]}, route: {cluster: canary}}
              - {name: default, match: {prefix: /}, route: {cluster: be}}
  clusters:
  - {name: be, connect_timeout: 1s, load_assignment: {cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}}]}]}}
  - {name: canary, connect_timeout: 1s, load_assignment: {cluster_name: canary, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}}]}]}}
`

// adminServer serves the admin API of a sidecar running explainBootstrap.
func adminServer(t *testing.T) string {
	t.Helper()
	b, err := config.ParseBootstrap("explain.yaml", []byte(explainBootstrap))
	if err != nil {
		t.Fatal(err)
	}
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { sc.Close(time.Second) })
	if err := sc.Apply(&b.Static); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.Handler(sc))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestExplainCommand(t *testing.T) {
	addr := adminServer(t)
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "flags after the request", args: []string{"--admin", addr, "GET http://api/users/7", "-H", "x-canary: 1", "--from", "10.0.0.5:4711"},
			want: []string{"the listener has only a default_filter_chain", `route         [0] "canary" prefix "/", header x-canary exact "1" -> matched`, `outcome       to cluster "canary", endpoint 10.0.0.2:80`}},
		{name: "method and URL apart", args: []string{"--admin", addr, "GET", "http://api/users/7"},
			want: []string{`-> no: header x-canary exact "1": request has none`, `outcome       to cluster "be", endpoint 10.0.0.1:80`}},
		{name: "unknown listener", args: []string{"--admin", addr, "--listener", "nope", "http://api/"},
			wantErr: `the sidecar answered 400 Bad Request: explain: no listener named "nope" (have web)`},
		{name: "no request", args: []string{"--admin", addr}, wantErr: "want one request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runExplain(context.Background(), tc.args, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestExplainCommandJSON(t *testing.T) {
	var out bytes.Buffer
	if err := runExplain(context.Background(), []string{"--admin", adminServer(t), "--json", "http://api/"}, &out); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Listener struct{ Name string }
		Clusters []struct {
			Name string
			Pick struct{ Endpoint string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if r.Listener.Name != "web" || len(r.Clusters) != 1 || r.Clusters[0].Pick.Endpoint != "10.0.0.1:80" {
		t.Errorf("JSON = %+v", r)
	}
}
