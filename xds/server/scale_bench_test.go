package server

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/meshlb/meshlb/discovery"
)

// Scale of the fleet benchmark (issue 4): 5,000 services with 10 instances
// each, 500 of them with a sidecar that has 5 upstreams.
const (
	scaleServices  = 5000
	scaleInstances = 10
	scaleSidecars  = 500
	scaleUpstreams = 5
)

// scaleServicesList returns the benchmark's services; the endpoint of
// service 0, instance 0 has health h, so two lists differ in one endpoint.
func scaleServicesList(h discovery.Health) []discovery.Service {
	svcs := make([]discovery.Service, scaleServices)
	for i := range svcs {
		s := discovery.Service{Name: fmt.Sprintf("svc-%04d", i), Protocol: discovery.ProtocolTCP}
		if i%2 == 0 {
			s.Protocol = discovery.ProtocolHTTP
		}
		for j := range scaleInstances {
			s.Endpoints = append(s.Endpoints, discovery.Endpoint{
				Address: fmt.Sprintf("10.%d.%d.%d", i/256, i%256, j+1), Port: 8080, ID: fmt.Sprintf("svc-%04d-%d", i, j),
				Tags: []string{"v1"}, Meta: map[string]string{"zone": "a"},
			})
		}
		if i < scaleSidecars {
			sc := &discovery.Sidecar{InboundPort: 15000, LocalPort: 8080}
			for k := 1; k <= scaleUpstreams; k++ {
				sc.Upstreams = append(sc.Upstreams, discovery.Upstream{
					Service: fmt.Sprintf("svc-%04d", (i*7+k)%scaleServices), BindPort: 9000 + k})
			}
			s.Sidecar = sc
		}
		svcs[i] = s
	}
	svcs[0].Endpoints[0].Health = h
	return svcs
}

func scaleCatalog(b *testing.B, h discovery.Health) *discovery.Catalog {
	c, err := discovery.New(scaleServicesList(h))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkScale measures the control server on a catalog of 5,000
// services / 50,000 instances with 500 sidecars: building the catalog,
// publishing all 500 snapshots into an empty server, and an update where
// one endpoint's health changed. live-MB is the heap still in use after a
// GC with the server and its snapshots alive.
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	b.Run("catalog", func(b *testing.B) {
		svcs := scaleServicesList(discovery.HealthHealthy)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := discovery.New(svcs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update-all", func(b *testing.B) {
		cat := scaleCatalog(b, discovery.HealthHealthy)
		b.ReportAllocs()
		var s *Server
		for b.Loop() {
			s = New(nil)
			if err := s.Update(ctx, cat); err != nil {
				b.Fatal(err)
			}
		}
		reportLive(b, s, cat)
	})
	b.Run("update-one-endpoint", func(b *testing.B) {
		cats := [2]*discovery.Catalog{scaleCatalog(b, discovery.HealthHealthy), scaleCatalog(b, discovery.HealthUnhealthy)}
		s := New(nil)
		if err := s.Update(ctx, cats[0]); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := s.Update(ctx, cats[i%2]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportLive reports the heap in use, after a GC, with keep alive.
func reportLive(b *testing.B, keep ...any) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "live-MB")
	runtime.KeepAlive(keep)
}

// popularCatalog returns the mesh of the push-latency harness
// (integration/scale): services of 10 endpoints, sidecars on services
// 1…sidecars that each call service 0 and 3 others; service 0's first
// endpoint has port port.
func popularCatalog(b *testing.B, services, sidecars, port int) *discovery.Catalog {
	svcs := make([]discovery.Service, services)
	for i := range svcs {
		s := discovery.Service{Name: fmt.Sprintf("svc-%05d", i), Protocol: discovery.ProtocolTCP}
		if i%2 == 0 {
			s.Protocol = discovery.ProtocolHTTP
		}
		for j := range 10 {
			s.Endpoints = append(s.Endpoints, discovery.Endpoint{Address: fmt.Sprintf("10.%d.%d.%d", i/256, i%256, j+1), Port: 8080})
		}
		if i >= 1 && i <= sidecars {
			sc := &discovery.Sidecar{ID: fmt.Sprintf("node-%05d", i-1), InboundPort: 15000, LocalPort: 8080,
				Upstreams: []discovery.Upstream{{Service: "svc-00000", BindPort: 9000}}}
			for k := 1; k < 4; k++ {
				sc.Upstreams = append(sc.Upstreams, discovery.Upstream{
					Service: fmt.Sprintf("svc-%05d", 1+((i-1)*3+k*(services/4))%(services-1)), BindPort: 9000 + k})
			}
			s.Sidecar = sc
		}
		svcs[i] = s
	}
	svcs[0].Endpoints[0].Port = port
	c, err := discovery.New(svcs)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkPopularEndpoint measures Update when one endpoint of a service
// all 1,000 sidecars call changes, with 2,000 and 10,000 services of 10
// endpoints (the meshes of integration/scale): every node is translated
// and published, with no stream attached.
func BenchmarkPopularEndpoint(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cats := [2]*discovery.Catalog{popularCatalog(b, n, 1000, 8080), popularCatalog(b, n, 1000, 8081)}
			s := New(nil)
			ctx := context.Background()
			if err := s.Update(ctx, cats[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := s.Update(ctx, cats[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
