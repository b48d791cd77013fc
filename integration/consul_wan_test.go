package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// inDatacenter puts an agent in datacenter dc, WAN-joined to the agent
// whose serf_wan port is wanPort (none if 0).
func inDatacenter(dc string, wanPort int) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		cfg["datacenter"], cfg["node_name"] = dc, "meshlb-it-"+dc
		if wanPort != 0 {
			cfg["retry_join_wan"] = []string{fmt.Sprintf("127.0.0.1:%d", wanPort)}
		}
	}
}

// An upstream with Datacenter set reaches the service in that datacenter,
// through a WAN-federated second Consul datacenter; and a resolver fails
// over to it when the local instances are critical.
func TestConsulUpstreamInOtherDatacenter(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var wan int
	dc1 := startConsul(t, inDatacenter("dc1", 0), func(cfg map[string]any) {
		wan = cfg["ports"].(map[string]any)["serf_wan"].(int)
	})
	dc2 := startConsul(t, inDatacenter("dc2", wan))
	eventually(t, "the two datacenters to federate", func() bool {
		dcs, err := dc1.client.Catalog().Datacenters()
		return err == nil && len(dcs) == 2
	})
	remote, local := startBackend(t, "remote"), startBackend(t, "local")
	for _, a := range []*consulAgent{dc1, dc2} {
		a.setProtocol("web", "http")
	}
	dc2.register(&api.AgentServiceRegistration{ID: "web-dc2", Name: "web", Address: "127.0.0.1", Port: remote.port})
	dc1.registerWeb("web-local", local, true)
	dc1.setEntry(&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web",
		Failover: map[string]api.ServiceResolverFailover{"*": {Datacenters: []string{"dc2"}}}})
	m := startConsulMesh(t, dc1)

	// The client's second upstream asks for web in dc2 explicitly.
	port := freePort(t)
	dc1.register(&api.AgentServiceRegistration{
		Kind: api.ServiceKindConnectProxy, ID: "client-sidecar-proxy", Name: "client-sidecar-proxy",
		Address: "127.0.0.1", Port: freePort(t),
		Proxy: &api.AgentServiceConnectProxyConfig{DestinationServiceName: "client", DestinationServiceID: "client",
			Upstreams: []api.Upstream{{DestinationName: "web", LocalBindPort: m.webPort},
				{DestinationName: "web", Datacenter: "dc2", LocalBindPort: port}}},
	})
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	dc2URL := fmt.Sprintf("http://127.0.0.1:%d/", port)
	took := eventually(t, "traffic to web in dc2 through the dc2 upstream", func() bool { return seenAll(c, dc2URL, remote) })
	t.Logf("dc2 upstream served %v after it was registered", took)
	eventually(t, "traffic to local web", func() bool { return seenAll(c, m.webURL(), local) })

	if err := dc1.client.Agent().UpdateTTL("ttl:web-local", "failing", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, "failover of web to dc2", func() bool {
		_, body, err := httpGet(c, m.webURL())
		return err == nil && body == "remote"
	})
	t.Logf("web failed over to dc2 %v after its local instance turned critical", took)
}
