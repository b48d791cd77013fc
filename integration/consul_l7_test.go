package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// setEntry writes a config entry.
func (a *consulAgent) setEntry(e api.ConfigEntry) {
	a.t.Helper()
	if _, _, err := a.client.ConfigEntries().Set(e, nil); err != nil {
		a.t.Fatalf("writing %s %s: %v", e.GetKind(), e.GetName(), err)
	}
}

// registerVersion registers instance id of service for backend b with
// meta version=v.
func (a *consulAgent) registerVersion(service, id, version string, b *backend) {
	a.t.Helper()
	a.register(&api.AgentServiceRegistration{ID: id, Name: service, Address: "127.0.0.1", Port: b.port,
		Meta: map[string]string{"version": version}})
}

// getWith sends one GET with the given header and returns the body.
func getWith(t *testing.T, c *http.Client, url, header, value string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	return string(buf[:n])
}

// A service-router (a path route and a header route), a service-splitter
// (90/10) and a service-resolver (subsets by meta) for web, end to end.
func TestConsulRouterSplitterResolver(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	v1, v2, admin := startBackend(t, "v1"), startBackend(t, "v2"), startBackend(t, "admin")
	a.setProtocol("web", "http")
	a.setProtocol("admin", "http")
	a.setEntry(&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", DefaultSubset: "v1",
		Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}})
	a.setEntry(&api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "web", Splits: []api.ServiceSplit{
		{Weight: 90, ServiceSubset: "v1"}, {Weight: 10, ServiceSubset: "v2"}}})
	a.setEntry(&api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "web", Routes: []api.ServiceRoute{
		{Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{PathPrefix: "/admin"}},
			Destination: &api.ServiceRouteDestination{Service: "admin"}},
		{Match: &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{
			Header: []api.ServiceRouteHTTPMatchHeader{{Name: "x-version", Exact: "v2"}}}},
			Destination: &api.ServiceRouteDestination{ServiceSubset: "v2"}},
	}})
	a.registerVersion("web", "web-v1", "v1", v1)
	a.registerVersion("web", "web-v2", "v2", v2)
	a.register(&api.AgentServiceRegistration{ID: "admin-1", Name: "admin", Address: "127.0.0.1", Port: admin.port})
	m := startConsulMesh(t, a)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to v1 and v2", func() bool { return seenAll(c, m.webURL(), v1, v2) })

	if got := getWith(t, c, m.webURL()+"admin/users", "", ""); got != "admin" {
		t.Errorf("router path route /admin: got %q, want admin", got)
	}
	for range 20 {
		if got := getWith(t, c, m.webURL(), "x-version", "v2"); got != "v2" {
			t.Fatalf("router header route x-version: v2: got %q, want v2", got)
		}
	}
	const n = 2000
	count := map[string]int{}
	for range n {
		count[getWith(t, c, m.webURL(), "", "")]++
	}
	share := float64(count["v1"]) / n * 100
	t.Logf("splitter 90/10 over %d requests: v1 %.1f%% (%d), v2 %d, other %d", n, share, count["v1"], count["v2"],
		n-count["v1"]-count["v2"])
	if share < 87 || share > 93 || count["v1"]+count["v2"] != n {
		t.Errorf("v1 share %.1f%% (%v), want 87-93%% and only v1/v2", share, count)
	}
}

// A service-resolver fails web over to web-backup when web's only instance
// turns critical, and back when it recovers, with no failed request.
func TestConsulResolverFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	primary, backup := startBackend(t, "primary"), startBackend(t, "backup")
	a.setProtocol("web", "http")
	a.setProtocol("web-backup", "http") // Consul requires one protocol per discovery chain
	a.setEntry(&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", ConnectTimeout: time.Second,
		Failover: map[string]api.ServiceResolverFailover{"*": {Service: "web-backup"}}})
	a.registerWeb("web-primary", primary, true)
	a.register(&api.AgentServiceRegistration{ID: "web-backup-1", Name: "web-backup", Address: "127.0.0.1", Port: backup.port})
	m := startConsulMesh(t, a)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to primary", func() bool { return seenAll(c, m.webURL(), primary) })
	if backup.hits.Load() != 0 {
		t.Errorf("backup got %d requests while primary was healthy, want 0", backup.hits.Load())
	}

	ld := startLoad(m.webURL(), 4)
	t0 := time.Now()
	if err := a.client.Agent().UpdateTTL("ttl:web-primary", "failing", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, "failover to backup", func() bool { return backup.hits.Load() > 0 })
	quiet := quietWithin(t, "critical primary to stop getting requests", primary, t0, 2*time.Second)
	t.Logf("failover: backup got traffic %v after primary turned critical; primary quiet after %v", took, quiet)

	if err := a.client.Agent().UpdateTTL("ttl:web-primary", "ok", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	quiet = quietWithin(t, "backup to stop getting requests once primary recovers", backup, time.Now(), 2*time.Second)
	t.Logf("failback: backup quiet %v after primary recovered", quiet)
	ok, fail, errs := ld.finish()
	t.Logf("load across failover and failback: %d ok, %d failed", ok, fail)
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
}

// Registrations written for Consul Connect with Envoy, unchanged: services
// with a connect.sidecar_service block (Consul picks the proxy's port and
// adds its TCP and alias checks), and meshlb sidecars started where
// `consul connect envoy -sidecar-for` ran.
func TestConsulSidecarServiceRegistration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	web := startBackend(t, "web")
	upstream := freePort(t)
	a.setProtocol("web", "http")
	a.register(&api.AgentServiceRegistration{Name: "web", Port: web.port,
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{}}})
	a.register(&api.AgentServiceRegistration{Name: "client", Port: freePort(t),
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{
			Proxy: &api.AgentServiceConnectProxyConfig{Upstreams: []api.Upstream{
				{DestinationName: "web", LocalBindPort: upstream}}}}}})
	xds := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "control", "control", "--consul", "--consul-addr", a.addr, "--xds-addr", xds)
	for _, svc := range []string{"web", "client"} {
		admin := freePort(t)
		start(t, svc+" sidecar", "sidecar", "--xds", xds, "-sidecar-for", svc, "--consul-addr", a.addr,
			"--admin", fmt.Sprintf("127.0.0.1:%d", admin))
		waitReady(t, admin)
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	url := fmt.Sprintf("http://127.0.0.1:%d/", upstream)
	// web is reached through its sidecar once Consul's TCP check on the
	// sidecar's port has passed (it runs every 10s).
	took := eventually(t, "client -> client sidecar -> web sidecar -> web", func() bool {
		code, body, err := httpGet(c, url)
		return err == nil && code == 200 && body == "web"
	})
	t.Logf("traffic flowed %v after the sidecars were ready", took)
}
