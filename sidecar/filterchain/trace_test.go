package filterchain

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestTrace checks that Trace ends where Match does and names, at each
// criterion, the branch taken and the chains left.
func TestTrace(t *testing.T) {
	m, err := Compile([]spec.FilterChainMatch{
		{SourcePrefixRanges: prefixes("0.0.0.0/0")},
		{DestinationPort: 8080, SourcePrefixRanges: prefixes("10.0.0.0/8")},
		{ServerNames: []string{"*.example.com"}, TransportProtocol: "tls"},
	})
	if err != nil {
		t.Fatal(err)
	}
	type step struct{ Criterion, Value, Branch string }
	tests := []struct {
		name  string
		ci    ConnInfo
		chain int
		steps []step
	}{{
		name: "no backing out of port 8080", ci: conn("192.168.1.1:5000", "10.0.0.9:8080"), chain: -1,
		steps: []step{{"destination_port", "8080", "8080"}, {"prefix_ranges", "10.0.0.9", "any (0.0.0.0/0)"},
			{"server_names", "(none)", "any"}, {"transport_protocol", "raw_buffer", "any"}, {"application_protocols", "(none)", "any"},
			{"direct_source_prefix_ranges", "192.168.1.1", "any (0.0.0.0/0)"}, {"source_type", "EXTERNAL", "any"},
			{"source_prefix_ranges", "192.168.1.1", ""}},
	}, {
		name: "wildcard server name", ci: withSNI(conn("192.168.1.1:5000", "10.0.0.9:443"), "www.example.com"), chain: 2,
		steps: []step{{"destination_port", "443", "any"}, {"prefix_ranges", "10.0.0.9", "any (0.0.0.0/0)"},
			{"server_names", `"www.example.com"`, `"*.example.com"`}, {"transport_protocol", "tls", `"tls"`},
			{"application_protocols", "(none)", "any"}, {"direct_source_prefix_ranges", "192.168.1.1", "any (0.0.0.0/0)"},
			{"source_type", "EXTERNAL", "any"}, {"source_prefix_ranges", "192.168.1.1", "any (0.0.0.0/0)"}, {"source_ports", "5000", "any"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := m.Trace(&tt.ci)
			if want := m.Match(&tt.ci); tr.Chain != want || want != tt.chain {
				t.Errorf("Trace chain %d, Match %d, want %d", tr.Chain, want, tt.chain)
			}
			var got []step
			for _, s := range tr.Steps {
				got = append(got, step{s.Criterion, s.Value, s.Branch})
			}
			if diff := cmp.Diff(tt.steps, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}
