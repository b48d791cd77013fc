package discovery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func web(port int) Service {
	return Service{Name: "web", Endpoints: []Endpoint{{Address: "127.0.0.1", Port: port}}}
}

func api() Service {
	return Service{Name: "api", Protocol: ProtocolHTTP, Sidecar: &Sidecar{
		Upstreams: []Upstream{{Service: "web", BindPort: 10001}},
	}}
}

func mustNew(t *testing.T, services ...Service) *Catalog {
	t.Helper()
	c, err := New(services)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return c
}

func TestVersion(t *testing.T) {
	base := mustNew(t, web(9001), api())
	tests := []struct {
		name     string
		services []Service
		same     bool
	}{
		{"equal content", []Service{web(9001), api()}, true},
		{"other order", []Service{api(), web(9001)}, true},
		{"explicit defaults", []Service{
			{Name: "web", Protocol: ProtocolTCP, Endpoints: []Endpoint{
				{Address: "127.0.0.1", Port: 9001, Weight: 1, Health: HealthHealthy},
			}},
			{Name: "api", Protocol: ProtocolHTTP, Endpoints: []Endpoint{}, Sidecar: &Sidecar{
				ID: "api", InboundAddr: "127.0.0.1", LocalAddress: "127.0.0.1",
				Upstreams: []Upstream{{Service: "web", BindAddress: "127.0.0.1", BindPort: 10001}},
			}},
		}, true},
		{"other port", []Service{web(9002), api()}, false},
		{"service removed", []Service{web(9001)}, false},
		{"other protocol", []Service{web(9001), {Name: "api", Sidecar: api().Sidecar}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustNew(t, tt.services...).Version()
			if same := got == base.Version(); same != tt.same {
				t.Errorf("Version() = %s, base %s: equal = %v, want %v", got, base.Version(), same, tt.same)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		services []Service
		want     string
	}{
		{"duplicate name", []Service{web(9001), web(9002)}, "services[web]: duplicate service name"},
		{"unknown upstream", []Service{api()}, `service "api": sidecar.upstreams[0].service: unknown service "web"`},
		{"bad port", []Service{web(0)}, `service "web": endpoints[0].port: 0 is out of range 1-65535`},
		{"bad name", []Service{{Name: "a b"}}, `service "a b": name: must be non-empty with no spaces or slashes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.services)
			if err == nil || err.Error() != tt.want {
				t.Errorf("New() error = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestNewCopies checks that New fills defaults and does not retain its
// input.
func TestNewCopies(t *testing.T) {
	in := []Service{web(9001), api()}
	c := mustNew(t, in...)
	in[0].Endpoints[0].Port = 1
	in[1].Sidecar.Upstreams[0].BindPort = 1
	want := []Service{
		{Name: "api", Protocol: ProtocolHTTP, Sidecar: &Sidecar{
			ID: "api", InboundAddr: "127.0.0.1", LocalAddress: "127.0.0.1",
			Upstreams: []Upstream{{Service: "web", BindAddress: "127.0.0.1", BindPort: 10001}},
		}},
		{Name: "web", Protocol: ProtocolTCP, Endpoints: []Endpoint{
			{Address: "127.0.0.1", Port: 9001, Weight: 1, Health: HealthHealthy},
		}},
	}
	if diff := cmp.Diff(want, c.Services()); diff != "" {
		t.Errorf("Services() mismatch (-want +got):\n%s", diff)
	}
	if s, ok := c.Service("web"); !ok || s.Endpoints[0].HostPort() != "127.0.0.1:9001" {
		t.Errorf("Service(web) = %v, %v", s, ok)
	}
	if got := c.Sidecars(); len(got) != 1 || got[0].Name != "api" {
		t.Errorf("Sidecars() = %v, want [api]", got)
	}
	if len(c.Version()) != 16 {
		t.Errorf("Version() = %q, want 16 hex digits", c.Version())
	}
}
