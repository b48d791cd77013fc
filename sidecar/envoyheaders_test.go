package sidecar

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestEnvoyDefaultsThroughSidecar shows the HCM's generate_request_id and
// the router's suppress_envoy_headers reaching the data plane, and a
// route's header mutations reading the connection's address.
func TestEnvoyDefaultsThroughSidecar(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "id="+r.Header.Get("X-Request-Id")+" timeout="+r.Header.Get("X-Envoy-Expected-Rq-Timeout-Ms")+
			" client="+r.Header.Get("X-Client"))
	}))
	defer be.Close()
	tests := []struct {
		name        string
		edit        func(*config.HTTPManager)
		wantID      bool
		wantEnvoy   bool
		wantClient  string
		wantTimeout string
	}{
		{"defaults of a decoded HCM", func(h *config.HTTPManager) { h.GenerateRequestID = true }, true, true, "", "15000"},
		{"no request id", nil, false, true, "", "15000"},
		{"suppress_envoy_headers", func(h *config.HTTPManager) { h.SuppressEnvoyHeaders = true }, false, false, "", ""},
		{"route header with the client address", func(h *config.HTTPManager) {
			h.Routes.VirtualHosts[0].Routes[0].Headers.RequestAdd = []spec.HeaderAdd{{Name: "x-client", Value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}}
		}, false, true, "127.0.0.1", "15000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			url := serveHTTP(t, s, staticCluster("be", strings.TrimPrefix(be.URL, "http://")), func(l *config.Listener) {
				l.FilterChains[0].HTTP.Routes.VirtualHosts[0].Routes[0].Action.Timeout = 15e9
				if tc.edit != nil {
					tc.edit(l.FilterChains[0].HTTP)
				}
			})
			c := newClient()
			defer c.CloseIdleConnections()
			resp, err := c.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fields := strings.Fields(string(b) + " ")
			got := map[string]string{}
			for _, f := range fields {
				k, v, _ := strings.Cut(f, "=")
				got[k] = v
			}
			if hasID := uuidLike(got["id"]); hasID != tc.wantID {
				t.Errorf("x-request-id %q, want one: %t", got["id"], tc.wantID)
			}
			if got["timeout"] != tc.wantTimeout {
				t.Errorf("x-envoy-expected-rq-timeout-ms = %q, want %q", got["timeout"], tc.wantTimeout)
			}
			if got["client"] != tc.wantClient {
				t.Errorf("x-client = %q, want %q", got["client"], tc.wantClient)
			}
			if _, has := resp.Header["X-Envoy-Upstream-Service-Time"]; has != tc.wantEnvoy {
				t.Errorf("x-envoy-upstream-service-time present: %t, want %t", has, tc.wantEnvoy)
			}
		})
	}
}

func uuidLike(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 }
