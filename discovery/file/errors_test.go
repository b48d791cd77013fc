package file

import (
	"testing"
)

// TestParseErrors checks that every error names the file, the line and the
// field path.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "services.yaml:1: file is empty"},
		{"comments only", "# nothing\n", "services.yaml:1: file is empty"},
		{"null document", "---\n...\n", "services.yaml:1: file is empty"},
		{"two documents", "services: []\n---\nservices: []\n", "services.yaml:2: multiple YAML documents are not supported"},
		{"syntax", "services:\n  - name: a\n    protocol: a: b\n", "services.yaml:3: invalid YAML: mapping values are not allowed in this context"},
		{"tab indent", "services:\n\t- name: a\n", "services.yaml:2: invalid YAML: found character that cannot start any token"},
		{"syntax first line", "a: b: c\n", "services.yaml:1: invalid YAML: mapping values are not allowed in this context"},
		{"invalid utf-8", "services: []\n# \xff\n", "services.yaml:2: invalid UTF-8"},
		{"control character", "services:\n  - name: \x01\n", "services.yaml:2: control character U+0001 is not allowed"},
		{"root not mapping", "- a\n", "services.yaml:1: expected a mapping, got a list"},
		{"missing services", "other: 1\n", "services.yaml:1: other: unknown field, expected one of services, mesh, intentions"},
		{"services empty mapping", "{}\n", "services.yaml:1: missing required field \"services\""},
		{"services null", "services:\n", "services.yaml:1: services: expected a list, got null"},
		{"duplicate key", "services: []\nservices: []\n", "services.yaml:2: services: duplicate key (first at line 1)"},
		{"non-string key", "services:\n  - 1: a\n", "services.yaml:2: services[0]: mapping keys must be strings, got integer 1"},
		{"unknown service key", "services:\n  - name: a\n    prot: http\n",
			"services.yaml:3: services[0].prot: unknown field, expected one of name, protocol, endpoints, sidecar, lb_policy, hash_policy, health_check, outlier_detection, retries, timeout"},
		{"merge key", "services:\n  - name: a\n    <<: {protocol: http}\n",
			"services.yaml:3: services[0].<<: merge keys are not supported"},
		{"missing name", "services:\n  - protocol: http\n", "services.yaml:2: services[0]: missing required field \"name\""},
		{"name not string", "services:\n  - name: 12\n", "services.yaml:2: services[0].name: expected a string, got integer 12"},
		{"name with slash", "services:\n  - name: a/b\n", "services.yaml:2: services[0].name: \"a/b\" must be non-empty with no spaces or slashes"},
		{"duplicate name", "services:\n  - name: a\n  - name: b\n  - name: a\n",
			"services.yaml:4: services[2].name: duplicate service name \"a\" (first at line 2)"},
		{"bad protocol", "services:\n  - name: a\n    protocol: udp\n",
			"services.yaml:3: services[0].protocol: \"udp\" is not one of tcp, http"},
		{"endpoints not list", "services:\n  - name: a\n    endpoints: {}\n",
			"services.yaml:3: services[0].endpoints: expected a list, got a mapping"},
		{"port out of range", "services:\n  - name: a\n  - name: b\n    endpoints:\n      - address: 127.0.0.1\n        port: 70000\n",
			"services.yaml:6: services[1].endpoints[0].port: 70000 is out of range 1-65535"},
		{"port overflow", "services:\n  - name: a\n    endpoints:\n      - {address: 127.0.0.1, port: 18446744073709551615}\n",
			"services.yaml:4: services[0].endpoints[0].port: 18446744073709551615 is out of range 1-65535"},
		{"port quoted", "services:\n  - name: a\n    endpoints:\n      - {address: 127.0.0.1, port: \"80\"}\n",
			"services.yaml:4: services[0].endpoints[0].port: expected an integer, got string \"80\""},
		{"port float", "services:\n  - name: a\n    endpoints:\n      - {address: 127.0.0.1, port: 80.5}\n",
			"services.yaml:4: services[0].endpoints[0].port: expected an integer, got number 80.5"},
		{"missing port", "services:\n  - name: a\n    endpoints:\n      - address: 127.0.0.1\n",
			"services.yaml:4: services[0].endpoints[0]: missing required field \"port\""},
		{"missing address", "services:\n  - name: a\n    endpoints:\n      - port: 1\n",
			"services.yaml:4: services[0].endpoints[0]: missing required field \"address\""},
		{"bad address", "services:\n  - name: a\n    endpoints:\n      - {address: localhost, port: 1}\n",
			"services.yaml:4: services[0].endpoints[0].address: \"localhost\" is not an IP address"},
		{"weight zero", "services:\n  - name: a\n    endpoints:\n      - address: 127.0.0.1\n        port: 1\n        weight: 0\n",
			"services.yaml:6: services[0].endpoints[0].weight: 0 is out of range 1-128"},
		{"bad health", "services:\n  - name: a\n    endpoints:\n      - {address: 127.0.0.1, port: 1, health: sick}\n",
			"services.yaml:4: services[0].endpoints[0].health: \"sick\" is not one of healthy, unhealthy, draining"},
		{"unknown endpoint key", "services:\n  - name: a\n    endpoints:\n      - address: 127.0.0.1\n        prt: 1\n",
			"services.yaml:5: services[0].endpoints[0].prt: unknown field, expected one of address, port, weight, health"},
		{"sidecar not mapping", "services:\n  - name: a\n    sidecar: true\n",
			"services.yaml:3: services[0].sidecar: expected a mapping, got boolean true"},
		{"unknown sidecar key", "services:\n  - name: a\n    sidecar:\n      inbound: 1\n",
			"services.yaml:4: services[0].sidecar.inbound: unknown field, expected one of id, inbound_port, inbound_address, local_port, local_address, upstreams"},
		{"empty sidecar id", "services:\n  - name: a\n    sidecar:\n      id: \"\"\n",
			"services.yaml:4: services[0].sidecar.id: must not be empty"},
		{"inbound without local port", "services:\n  - name: a\n    sidecar:\n      inbound_port: 21000\n",
			"services.yaml:4: services[0].sidecar.local_port: required with inbound_port"},
		{"duplicate sidecar id", "services:\n  - name: a\n    sidecar: {}\n  - name: b\n    sidecar:\n      id: a\n",
			"services.yaml:6: services[1].sidecar.id: \"a\" is also used by service \"a\""},
		{"duplicate default sidecar id", "services:\n  - name: a\n    sidecar: {id: b}\n  - name: b\n    sidecar: {}\n",
			"services.yaml:5: services[1].sidecar.id: \"b\" is also used by service \"a\""},
		{"unknown upstream", "services:\n  - name: a\n    sidecar:\n      upstreams:\n        - service: b\n          bind_port: 10001\n",
			"services.yaml:5: services[0].sidecar.upstreams[0].service: unknown service \"b\""},
		{"upstream missing bind port", "services:\n  - name: a\n    sidecar:\n      upstreams:\n        - service: a\n",
			"services.yaml:5: services[0].sidecar.upstreams[0]: missing required field \"bind_port\""},
		{"bad bind address", "services:\n  - name: a\n    sidecar:\n      upstreams:\n        - {service: a, bind_port: 1, bind_address: x}\n",
			"services.yaml:5: services[0].sidecar.upstreams[0].bind_address: \"x\" is not an IP address"},
		{"duplicate bind port", `services:
  - name: a
    sidecar:
      upstreams:
        - service: a
          bind_port: 10001
        - service: a
          bind_port: 10001
`, "services.yaml:8: services[0].sidecar.upstreams[1].bind_port: 127.0.0.1:10001 is also used by services[0].sidecar.upstreams[0].bind_port"},
		{"bind port used by inbound", `services:
  - name: a
    sidecar:
      upstreams:
        - service: a
          bind_port: 21000
      inbound_port: 21000
      local_port: 9001
`, "services.yaml:6: services[0].sidecar.upstreams[0].bind_port: 127.0.0.1:21000 is also used by services[0].sidecar.inbound_port"},
		{"alias to ancestor", "services: &s [*s]\n", "services.yaml:1: services[0]: expected a mapping, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("services.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse() = catalog %s, want error %q", c.Version(), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse() error\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}
