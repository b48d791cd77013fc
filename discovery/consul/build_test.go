package consul

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

func TestMapHealth(t *testing.T) {
	maint := &api.HealthCheck{CheckID: api.ServiceMaintPrefix + "web1", Status: api.HealthCritical}
	tests := []struct {
		name      string
		checks    api.HealthChecks
		warningAs discovery.Health
		want      discovery.Health
	}{
		{"no checks", nil, discovery.HealthHealthy, discovery.HealthHealthy},
		{"passing", api.HealthChecks{{Status: api.HealthPassing}}, discovery.HealthHealthy, discovery.HealthHealthy},
		{"warning as healthy", api.HealthChecks{{Status: api.HealthWarning}}, discovery.HealthHealthy, discovery.HealthHealthy},
		{"warning as unhealthy", api.HealthChecks{{Status: api.HealthWarning}}, discovery.HealthUnhealthy, discovery.HealthUnhealthy},
		{"critical", api.HealthChecks{{Status: api.HealthPassing}, {Status: api.HealthCritical}}, discovery.HealthHealthy, discovery.HealthUnhealthy},
		{"maintenance", api.HealthChecks{{Status: api.HealthPassing}, maint}, discovery.HealthHealthy, discovery.HealthUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{warningAs: tt.warningAs}
			if got := b.mapHealth(tt.checks.AggregatedStatus()); got != tt.want {
				t.Errorf("mapHealth(%v) = %s, want %s", tt.checks.AggregatedStatus(), got, tt.want)
			}
		})
	}
}

// proxyEntry returns a connect-proxy instance for web1 on node n1.
func proxyEntry(id string, port int, config map[string]any, ups ...api.Upstream) *api.ServiceEntry {
	e := instance("web-sidecar-proxy", id, "127.0.0.1", port, api.HealthPassing)
	e.Service.Kind = api.ServiceKindConnectProxy
	e.Service.Proxy = &api.AgentServiceConnectProxyConfig{
		DestinationServiceName: "web", DestinationServiceID: "web1",
		LocalServicePort: 9001, Config: config, Upstreams: ups,
	}
	return e
}

func buildCatalog(t *testing.T, health map[key][]*api.ServiceEntry, entries map[string][]api.ConfigEntry) *discovery.Catalog {
	t.Helper()
	b := newBuilder(health, entries, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
	c, err := b.catalog()
	if err != nil {
		t.Fatalf("catalog() error = %v", err)
	}
	return c
}

func TestBuildSidecar(t *testing.T) {
	db := instance("db", "db1", "10.0.0.5", 5432, api.HealthPassing)
	db.Service.Tags, db.Service.Meta = []string{"primary"}, map[string]string{"v": "1"}
	health := map[key][]*api.ServiceEntry{
		{name: "web"}: {instance("web", "web1", "", 9001, api.HealthPassing)},
		{name: "web-sidecar-proxy"}: {proxyEntry("web1-sidecar-proxy", 21000,
			map[string]any{"protocol": "http", "local_connect_timeout_ms": float64(250), "local_request_timeout_ms": "3000"},
			api.Upstream{DestinationName: "db", LocalBindPort: 15432,
				Config: map[string]any{"limits": map[string]any{"max_connections": float64(5)}}},
			api.Upstream{DestinationName: "cache", LocalBindAddress: "127.0.0.2", LocalBindPort: 16379},
		)},
		{name: "db"}: {db},
	}
	pending := 7
	entries := map[string][]api.ConfigEntry{api.ServiceDefaults: {
		&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "cache", Protocol: "http"},
		&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", UpstreamConfig: &api.UpstreamConfiguration{
			Defaults: &api.UpstreamConfig{Limits: &api.UpstreamLimits{MaxPendingRequests: &pending}}}},
	}}
	c := buildCatalog(t, health, entries)
	want := []discovery.Service{
		{Name: "cache", Protocol: discovery.ProtocolHTTP},
		{Name: SidecarPrefix + "web1-sidecar-proxy", Protocol: discovery.ProtocolHTTP, Datacenter: "dc1",
			Sidecar: &discovery.Sidecar{
				ID: "web1-sidecar-proxy", Service: "web", InboundAddr: "127.0.0.1", InboundPort: 21000,
				LocalAddress: "127.0.0.1", LocalPort: 9001, LocalConnectTimeout: 250 * time.Millisecond,
				LocalRequestTimeout: 3 * time.Second,
				Upstreams: []discovery.Upstream{
					{Service: "db", BindAddress: "127.0.0.1", BindPort: 15432, Limits: &discovery.Limits{MaxConnections: 5}, PassiveHealthCheck: &discovery.Outlier{}},
					{Service: "cache", BindAddress: "127.0.0.2", BindPort: 16379, Limits: &discovery.Limits{MaxPendingRequests: 7}, PassiveHealthCheck: &discovery.Outlier{}},
				},
			}},
		{Name: "db", Protocol: discovery.ProtocolTCP, Datacenter: "dc1", Endpoints: []discovery.Endpoint{{
			Address: "10.0.0.5", Port: 5432, Weight: 1, Health: discovery.HealthHealthy, ID: "db1",
			Tags: []string{"primary"}, Meta: map[string]string{"v": "1"},
		}}},
		// web1 is reached through its sidecar's public port.
		{Name: "web", Protocol: discovery.ProtocolTCP, Datacenter: "dc1", Endpoints: []discovery.Endpoint{{
			Address: "127.0.0.1", Port: 21000, Weight: 1, Health: discovery.HealthHealthy, ID: "web1",
		}}},
	}
	if diff := cmp.Diff(want, c.Services()); diff != "" {
		t.Errorf("catalog mismatch (-want +got):\n%s", diff)
	}
}

func TestBuildEndpointHealthIncludesProxy(t *testing.T) {
	p := proxyEntry("web1-sidecar-proxy", 21000, nil)
	p.Checks = api.HealthChecks{{CheckID: "proxy-alive", Status: api.HealthCritical}}
	health := map[key][]*api.ServiceEntry{
		{name: "web"}:               {instance("web", "web1", "127.0.0.1", 9001, api.HealthPassing)},
		{name: "web-sidecar-proxy"}: {p},
	}
	c := buildCatalog(t, health, nil)
	if got := healthOf(t, c, "web"); len(got) != 1 || got[0] != discovery.HealthUnhealthy {
		t.Errorf("web health %v, want [unhealthy] (its proxy is critical)", got)
	}
}

func TestBuildProtocol(t *testing.T) {
	global := &api.ProxyConfigEntry{Kind: api.ProxyDefaults, Name: api.ProxyConfigGlobal,
		Config: map[string]any{"protocol": "grpc"}}
	tests := []struct {
		name    string
		entries map[string][]api.ConfigEntry
		want    discovery.Protocol
	}{
		{"default tcp", nil, discovery.ProtocolTCP},
		{"service-defaults http2", map[string][]api.ConfigEntry{api.ServiceDefaults: {
			&api.ServiceConfigEntry{Name: "web", Protocol: "http2"}}}, discovery.ProtocolHTTP},
		{"proxy-defaults grpc", map[string][]api.ConfigEntry{api.ProxyDefaults: {global}}, discovery.ProtocolHTTP},
		{"service-defaults tcp wins", map[string][]api.ConfigEntry{
			api.ServiceDefaults: {&api.ServiceConfigEntry{Name: "web", Protocol: "tcp"}},
			api.ProxyDefaults:   {global}}, discovery.ProtocolTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(nil, tt.entries, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
			if got := b.protocol("web"); got != tt.want {
				t.Errorf("protocol(web) = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNextIndex(t *testing.T) {
	tests := []struct {
		name            string
		last, got, want uint64
	}{
		{"first", 0, 42, 42},
		{"moved", 42, 43, 43},
		{"timeout", 42, 42, 42},
		{"backwards resets", 42, 7, 0},
		{"zero never spins", 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextIndex(tt.last, tt.got); got != tt.want {
				t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.last, tt.got, got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 5*time.Second
	for n := 1; n <= 20; n++ {
		full := min(lo<<min(n-1, 20), hi)
		for range 50 {
			if d := backoff(n, lo, hi); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, full/2, full)
			}
		}
	}
}

func TestProxyConfigMerge(t *testing.T) {
	global := &api.ProxyConfigEntry{Kind: api.ProxyDefaults, Name: api.ProxyConfigGlobal,
		Config: map[string]any{"protocol": "grpc", "local_connect_timeout_ms": float64(100), "bind_port": float64(21500)}}
	web := &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "web", Protocol: "tcp", LocalConnectTimeoutMs: 200}
	tests := []struct {
		name    string
		entries []api.ConfigEntry
		own     map[string]any
		want    map[string]any
	}{
		{"proxy-defaults", []api.ConfigEntry{global}, nil,
			map[string]any{"protocol": "grpc", "local_connect_timeout_ms": float64(100), "bind_port": float64(21500)}},
		{"service-defaults over proxy-defaults", []api.ConfigEntry{global, web}, nil,
			map[string]any{"protocol": "tcp", "local_connect_timeout_ms": float64(200), "bind_port": float64(21500)}},
		{"registration over both", []api.ConfigEntry{global, web}, map[string]any{"protocol": "http"},
			map[string]any{"protocol": "http", "local_connect_timeout_ms": float64(200), "bind_port": float64(21500)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byKind := map[string][]api.ConfigEntry{}
			for _, e := range tt.entries {
				byKind[e.GetKind()] = append(byKind[e.GetKind()], e)
			}
			b := newBuilder(nil, byKind, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
			got := b.proxyConfig(&api.AgentServiceConnectProxyConfig{DestinationServiceName: "web", Config: tt.own})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("proxyConfig (-want +got):\n%s", diff)
			}
		})
	}
}
