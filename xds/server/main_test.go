package server

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/discovery"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServices is a small mesh: web (http, inbound) calls api (http) and
// db (tcp); worker (tcp, inbound) calls db; edge (no inbound) lists api
// twice and db once.
func testServices() []discovery.Service {
	return []discovery.Service{
		{Name: "api", Protocol: discovery.ProtocolHTTP, Endpoints: []discovery.Endpoint{
			{Address: "10.0.0.1", Port: 8080, Weight: 2},
			{Address: "10.0.0.2", Port: 8080, Health: discovery.HealthUnhealthy},
			{Address: "10.0.0.3", Port: 8080, Health: discovery.HealthDraining},
		}},
		{Name: "db", Protocol: discovery.ProtocolTCP, Endpoints: []discovery.Endpoint{
			{Address: "10.0.1.1", Port: 5432},
		}},
		{Name: "web", Protocol: discovery.ProtocolHTTP,
			Endpoints: []discovery.Endpoint{{Address: "10.0.2.1", Port: 80}},
			Sidecar: &discovery.Sidecar{ID: "web-sidecar", InboundPort: 15001, LocalPort: 8080,
				Upstreams: []discovery.Upstream{{Service: "api", BindPort: 9001}, {Service: "db", BindPort: 9002}}},
		},
		{Name: "worker", Protocol: discovery.ProtocolTCP,
			Sidecar: &discovery.Sidecar{InboundPort: 15002, InboundAddr: "0.0.0.0", LocalPort: 7000,
				Upstreams: []discovery.Upstream{{Service: "db", BindPort: 9002}}},
		},
		{Name: "edge", Protocol: discovery.ProtocolTCP,
			Sidecar: &discovery.Sidecar{Upstreams: []discovery.Upstream{
				{Service: "api", BindPort: 9001}, {Service: "api", BindAddress: "::1", BindPort: 9001},
				{Service: "db", BindPort: 9002},
			}},
		},
	}
}

// testCatalog builds a catalog from testServices after applying edit.
func testCatalog(t testing.TB, edit func(byName map[string]*discovery.Service)) *discovery.Catalog {
	t.Helper()
	svcs := testServices()
	byName := make(map[string]*discovery.Service, len(svcs))
	for i := range svcs {
		byName[svcs[i].Name] = &svcs[i]
	}
	if edit != nil {
		edit(byName)
	}
	var out []discovery.Service
	for _, s := range byName {
		out = append(out, *s)
	}
	cat, err := discovery.New(out)
	if err != nil {
		t.Fatalf("discovery.New: %v", err)
	}
	return cat
}

// bigCatalog returns n services, each with 3 endpoints and a sidecar that
// has an inbound port and calls the next 3 services; even ones are http.
func bigCatalog(t testing.TB, n int) *discovery.Catalog {
	t.Helper()
	svcs := make([]discovery.Service, n)
	for i := range svcs {
		s := discovery.Service{Name: fmt.Sprintf("svc-%03d", i), Protocol: discovery.ProtocolTCP}
		if i%2 == 0 {
			s.Protocol = discovery.ProtocolHTTP
		}
		for j := range 3 {
			s.Endpoints = append(s.Endpoints, discovery.Endpoint{Address: fmt.Sprintf("10.%d.%d.%d", i/256, i%256, j+1), Port: 8080})
		}
		sc := &discovery.Sidecar{InboundPort: 15000, LocalPort: 8080}
		for k := 1; k <= 3; k++ {
			sc.Upstreams = append(sc.Upstreams, discovery.Upstream{Service: fmt.Sprintf("svc-%03d", (i+k)%n), BindPort: 9000 + k})
		}
		s.Sidecar = sc
		svcs[i] = s
	}
	cat, err := discovery.New(svcs)
	if err != nil {
		t.Fatalf("discovery.New: %v", err)
	}
	return cat
}
