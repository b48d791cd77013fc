package file

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/discovery"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []discovery.Service
	}{
		{
			name: "all fields",
			data: `services:
  - name: web
    protocol: http
    endpoints:
      - {address: 10.0.0.1, port: 9001, weight: 3, health: draining}
      - address: "::1"
        port: 9002
  - name: api
    sidecar:
      id: api-1
      inbound_port: 21000
      inbound_address: 0.0.0.0
      local_port: 9001
      local_address: 127.0.0.2
      upstreams:
        - service: web
          bind_port: 10001
          bind_address: 127.0.0.3
        - service: api
          bind_port: 10002
`,
			want: []discovery.Service{
				{
					Name: "api", Protocol: discovery.ProtocolTCP,
					Sidecar: &discovery.Sidecar{
						ID: "api-1", InboundPort: 21000, InboundAddr: "0.0.0.0",
						LocalAddress: "127.0.0.2", LocalPort: 9001,
						Upstreams: []discovery.Upstream{
							{Service: "web", BindAddress: "127.0.0.3", BindPort: 10001},
							{Service: "api", BindAddress: "127.0.0.1", BindPort: 10002},
						},
					},
				},
				{
					Name: "web", Protocol: discovery.ProtocolHTTP,
					Endpoints: []discovery.Endpoint{
						{Address: "10.0.0.1", Port: 9001, Weight: 3, Health: discovery.HealthDraining},
						{Address: "::1", Port: 9002, Weight: 1, Health: discovery.HealthHealthy},
					},
				},
			},
		},
		{
			name: "sidecar defaults",
			data: "services:\n  - name: a\n    sidecar: {}\n",
			want: []discovery.Service{{
				Name: "a", Protocol: discovery.ProtocolTCP,
				Sidecar: &discovery.Sidecar{ID: "a", InboundAddr: "127.0.0.1", LocalAddress: "127.0.0.1"},
			}},
		},
		{
			name: "empty list",
			data: "services: []\n",
			want: []discovery.Service{},
		},
		{
			name: "aliases",
			data: "services:\n  - name: a\n    endpoints: [&ep {address: 127.0.0.1, port: 1}, *ep]\n",
			want: []discovery.Service{{
				Name: "a", Protocol: discovery.ProtocolTCP,
				Endpoints: []discovery.Endpoint{
					{Address: "127.0.0.1", Port: 1, Weight: 1, Health: discovery.HealthHealthy},
					{Address: "127.0.0.1", Port: 1, Weight: 1, Health: discovery.HealthHealthy},
				},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("services.yaml", []byte(tt.data))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, c.Services()); diff != "" {
				t.Errorf("Parse() services mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDefault(t *testing.T) {
	c, err := Parse("default.yaml", Default)
	if err != nil {
		t.Fatalf("Parse(Default) error = %v", err)
	}
	ep := func(port int) discovery.Endpoint {
		return discovery.Endpoint{Address: "127.0.0.1", Port: port, Weight: 1, Health: discovery.HealthHealthy}
	}
	sidecar := func(id string, in, local int, ups ...discovery.Upstream) *discovery.Sidecar {
		return &discovery.Sidecar{ID: id, InboundPort: in, InboundAddr: "127.0.0.1",
			LocalAddress: "127.0.0.1", LocalPort: local, Upstreams: ups}
	}
	want := []discovery.Service{
		{Name: "echo", Protocol: discovery.ProtocolTCP, Endpoints: []discovery.Endpoint{ep(18311)},
			Sidecar: sidecar("echo", 18311, 18211), Identity: "echo"},
		{Name: "frontend", Protocol: discovery.ProtocolHTTP, Endpoints: []discovery.Endpoint{ep(18321)}, Identity: "frontend",
			Sidecar: sidecar("frontend", 18321, 18221,
				discovery.Upstream{Service: "web", BindAddress: "127.0.0.1", BindPort: 18401},
				discovery.Upstream{Service: "echo", BindAddress: "127.0.0.1", BindPort: 18402})},
		{Name: "web", Protocol: discovery.ProtocolHTTP, Endpoints: []discovery.Endpoint{ep(18301)},
			Sidecar: sidecar("web", 18301, 18201), Identity: "web"},
	}
	if m := c.Mesh(); !m.Enabled() || m.TrustDomain != "meshlb.local" || !m.DefaultAllow {
		t.Errorf("Default mesh = %+v, want mTLS in meshlb.local, default allow", m)
	}
	if diff := cmp.Diff(want, c.Services()); diff != "" {
		t.Errorf("Default services mismatch (-want +got):\n%s", diff)
	}
}
