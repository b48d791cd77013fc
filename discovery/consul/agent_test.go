package consul

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"
)

// agentWith serves /v1/agent/services with services and returns a client.
func agentWith(t *testing.T, services map[string]*api.AgentService) *api.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(services)
	}))
	t.Cleanup(srv.Close)
	c, err := api.NewClient(&api.Config{Address: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func proxyFor(id, destName, destID string) *api.AgentService {
	return &api.AgentService{ID: id, Service: id, Kind: api.ServiceKindConnectProxy,
		Proxy: &api.AgentServiceConnectProxyConfig{DestinationServiceName: destName, DestinationServiceID: destID}}
}

func TestLookupSidecar(t *testing.T) {
	tests := []struct {
		name     string
		services map[string]*api.AgentService
		want     string // id, or an error substring after "error: "
	}{
		{"by destination id", map[string]*api.AgentService{
			"web": {ID: "web", Service: "web"},
			"p1":  proxyFor("p1", "web", "web"),
		}, "p1"},
		{"id wins over name", map[string]*api.AgentService{
			"p1": proxyFor("p1", "web", "web-2"),
			"p2": proxyFor("p2", "api", "web"),
		}, "p2"},
		{"by destination name", map[string]*api.AgentService{"p1": proxyFor("p1", "web", "web-1")}, "p1"},
		{"none", map[string]*api.AgentService{"web": {ID: "web", Service: "web"}}, "error: no connect-proxy for service"},
		{"several", map[string]*api.AgentService{
			"p1": proxyFor("p1", "web", "web-1"),
			"p2": proxyFor("p2", "web", "web-2"),
		}, "error: several connect-proxies for service \"web\" on the local agent (p1, p2): use -proxy-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LookupSidecar(context.Background(), agentWith(t, tt.services), "web")
			if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("LookupSidecar() = %q, %v; want an error containing %q", got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LookupSidecar() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
