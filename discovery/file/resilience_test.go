package file

import (
	"strings"
	"testing"
)

// Bad HA keys are reported at their line with the key's path.
func TestResilienceErrors(t *testing.T) {
	for _, tc := range []struct{ name, svc, want string }{
		{"policy", "lb_policy: fastest", `services[0].lb_policy: "fastest" is not one of`},
		{"hash without a hashing policy", "hash_policy: [{header: x}]", "hash_policy: only with ring_hash or maglev"},
		{"empty hash policy", "lb_policy: maglev\n  hash_policy: [{terminal: true}]", "services[0].hash_policy[0]: needs one of header, query, source_ip"},
		{"duration", "health_check: {interval: soon}", `services[0].health_check.interval: "soon" is not a positive duration`},
		{"retry condition", "retries: {on: [teapot]}", "services[0].retries.on:"},
		{"retry without on", "retries: {num_retries: 2}", "services[0].retries: missing"},
		{"unknown key", "outlier_detection: {consecutive_gateway_failure: 3}", "services[0].outlier_detection.consecutive_gateway_failure: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("services.yaml", []byte("services:\n- name: api\n  endpoints: [{address: 10.0.0.1, port: 80}]\n  "+tc.svc+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
