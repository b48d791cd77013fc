package consul

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// BenchmarkBuild turns the results of 5,000 services / 50,000 instances,
// 500 of them fronted by a connect-proxy with 5 upstreams, each service
// with a service-defaults entry, into a catalog: the source's cost per
// rebuild.
func BenchmarkBuild(b *testing.B) {
	health := make(map[key][]*api.ServiceEntry, 5001)
	entries := map[string][]api.ConfigEntry{}
	var proxies []*api.ServiceEntry
	for i := range 5000 {
		name := fmt.Sprintf("svc-%04d", i)
		entries[api.ServiceDefaults] = append(entries[api.ServiceDefaults],
			&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: name, Protocol: "http"})
		for j := range 10 {
			e := instance(name, fmt.Sprintf("%s-%d", name, j), fmt.Sprintf("10.%d.%d.%d", i/256, i%256, j+1), 8080, api.HealthPassing)
			e.Node = &api.Node{Node: fmt.Sprintf("node-%d-%d", i, j), Address: e.Service.Address, Datacenter: "dc1"}
			health[key{name: name}] = append(health[key{name: name}], e)
			if i < 500 && j == 0 {
				p := proxyEntry(e.Service.ID+"-sidecar-proxy", 21000, nil)
				p.Node, p.Service.Address = e.Node, e.Service.Address
				p.Service.Proxy.DestinationServiceName, p.Service.Proxy.DestinationServiceID = name, e.Service.ID
				for k := 1; k <= 5; k++ {
					p.Service.Proxy.Upstreams = append(p.Service.Proxy.Upstreams,
						api.Upstream{DestinationName: fmt.Sprintf("svc-%04d", (i*7+k)%5000), LocalBindPort: 9000 + k})
				}
				proxies = append(proxies, p)
			}
		}
	}
	health[key{name: "sidecar-proxy"}] = proxies
	b.ReportAllocs()
	for b.Loop() {
		bl := newBuilder(health, entries, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
		c, err := bl.catalog()
		if err != nil {
			b.Fatal(err)
		}
		if n := len(c.Sidecars()); n != 500 {
			b.Fatalf("%d sidecars, want 500", n)
		}
	}
}
