package config

import (
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"
)

func TestDecodeLoadAssignment(t *testing.T) {
	cla := fromYAML(t, `
cluster_name: api
policy: {overprovisioning_factor: 120}
endpoints:
- locality: {zone: a}
  load_balancing_weight: 5
  lb_endpoints:
  - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}, hostname: api-1}
    load_balancing_weight: 3
    metadata: {filter_metadata: {meshlb: {canary: true}}}
  - {endpoint: {address: {socket_address: {address: 10.0.0.2, port_value: 80}}}, health_status: HEALTHY}
  - {endpoint: {address: {socket_address: {address: 10.0.0.3, port_value: 80}}}, health_status: UNHEALTHY}
  - {endpoint: {address: {socket_address: {address: 10.0.0.4, port_value: 80}}}, health_status: DRAINING}
  - {endpoint: {address: {socket_address: {address: 10.0.0.5, port_value: 80}}}, health_status: TIMEOUT}
  - {endpoint: {address: {socket_address: {address: 10.0.0.6, port_value: 80}}}, health_status: DEGRADED}
- priority: 1
  lb_endpoints:
  - {endpoint: {address: {socket_address: {address: "2001:db8::0:1", port_value: 8080}}}}
`, &endpointv3.ClusterLoadAssignment{})
	got, err := DecodeLoadAssignment(cla)
	if err != nil {
		t.Fatal(err)
	}
	want := &LoadAssignment{ClusterName: "api", Endpoints: []Endpoint{
		{Address: "10.0.0.1:80", Weight: 3, Health: Healthy, Locality: "/a/", LocalityWeight: 5},
		{Address: "10.0.0.2:80", Weight: 1, Health: Healthy, Locality: "/a/", LocalityWeight: 5},
		{Address: "10.0.0.3:80", Weight: 1, Health: Unhealthy, Locality: "/a/", LocalityWeight: 5},
		{Address: "10.0.0.4:80", Weight: 1, Health: Draining, Locality: "/a/", LocalityWeight: 5},
		{Address: "10.0.0.5:80", Weight: 1, Health: Unhealthy, Locality: "/a/", LocalityWeight: 5},
		{Address: "10.0.0.6:80", Weight: 1, Health: Degraded, Locality: "/a/", LocalityWeight: 5},
		{Address: "[2001:db8::1]:8080", Weight: 1, Health: Healthy, Priority: 1},
	}, Overprovisioning: 120}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeLoadAssignment mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeLoadAssignmentErrors(t *testing.T) {
	const ep0 = `cluster_load_assignment "be": endpoints[0].lb_endpoints[0].`
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"host name", "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: db.local, port_value: 1}}}}]}]}",
			ep0 + `endpoint.address.socket_address.address: "db.local" is not an IP address`},
		{"port zero", "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 0}}}}]}]}",
			ep0 + `endpoint.address.socket_address.port_value: must not be 0`},
		{"named port", "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, named_port: http}}}}]}]}",
			ep0 + `endpoint.address.socket_address.named_port: not supported`},
		{"health check config", "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {health_check_config: {port_value: 9}, address: {socket_address: {address: 10.0.0.1, port_value: 1}}}}]}]}",
			ep0 + `endpoint.health_check_config: not supported`},
		{"named endpoint", "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint_name: x}]}]}",
			ep0 + `endpoint_name: not supported`},
		{"no endpoint", "{cluster_name: be, endpoints: [{lb_endpoints: [{}]}]}",
			ep0 + `endpoint: required`},
		{"no address", "{cluster_name: be, endpoints: [{lb_endpoints: [{endpoint: {}}]}]}",
			ep0 + `endpoint.address: required`},
		{"policy", "{cluster_name: be, policy: {drop_overloads: [{category: x, drop_percentage: {numerator: 1}}]}}",
			`cluster_load_assignment "be": policy.drop_overloads: not supported`},
		{"overprovisioning 0", "{cluster_name: be, policy: {overprovisioning_factor: 0}}",
			`cluster_load_assignment "be": policy.overprovisioning_factor: value must be greater than 0`},
		{"leds", "{cluster_name: be, endpoints: [{leds_cluster_locality_config: {leds_collection_name: x}}]}",
			`cluster_load_assignment "be": endpoints[0].leds_cluster_locality_config: not supported`},
		{"validation: zero weight", "{cluster_name: be, endpoints: [{lb_endpoints: [{load_balancing_weight: 0, endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 1}}}}]}]}",
			ep0 + `load_balancing_weight: value must be greater than or equal to 1`},
		{"validation: no cluster name", "{endpoints: []}", `cluster_load_assignment "": cluster_name: value length must be at least 1 runes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeLoadAssignment(fromYAML(t, tt.yaml, &endpointv3.ClusterLoadAssignment{}))
			if got != nil {
				t.Errorf("DecodeLoadAssignment returned %+v with the error", got)
			}
			wantError(t, err, tt.want)
		})
	}
}
