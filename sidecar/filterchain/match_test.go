package filterchain

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// conn describes a connection from remote to local ("ip:port").
func conn(remote, local string) ConnInfo {
	r := netip.MustParseAddrPort(remote)
	return ConnInfo{Local: netip.MustParseAddrPort(local), Remote: r, DirectRemote: r, TransportProtocol: RawBuffer}
}

func withSNI(ci ConnInfo, sni string, alpn ...string) ConnInfo {
	ci.ServerName, ci.ApplicationProtocols, ci.TransportProtocol = sni, alpn, "tls"
	return ci
}

// TestMatchPrecedence checks Envoy's order of criteria and its "most
// specific wins, no backing out" rule at each of them.
func TestMatchPrecedence(t *testing.T) {
	tests := []struct {
		name   string
		chains []spec.FilterChainMatch
		conns  []ConnInfo
		want   []int // chain index per connection, -1: none
	}{{
		name:   "exact destination port beats any port",
		chains: []spec.FilterChainMatch{{}, {DestinationPort: 8080}},
		conns:  []ConnInfo{conn("10.0.0.1:5000", "10.0.0.9:8080"), conn("10.0.0.1:5000", "10.0.0.9:9090")},
		want:   []int{1, 0},
	}, {
		name: "a matching destination port never falls back to any port",
		chains: []spec.FilterChainMatch{
			{SourcePrefixRanges: prefixes("0.0.0.0/0")},
			{DestinationPort: 8080, SourcePrefixRanges: prefixes("10.0.0.0/8")},
		},
		conns: []ConnInfo{conn("192.168.1.1:5000", "10.0.0.9:8080"), conn("10.1.1.1:5000", "10.0.0.9:8080")},
		want:  []int{-1, 1},
	}, {
		name: "destination port is decided before source IP",
		chains: []spec.FilterChainMatch{
			{SourcePrefixRanges: prefixes("10.1.2.3/32")},
			{DestinationPort: 8080},
		},
		conns: []ConnInfo{conn("10.1.2.3:5000", "10.0.0.9:8080"), conn("10.1.2.3:5000", "10.0.0.9:1")},
		want:  []int{1, 0},
	}, {
		name: "longest destination prefix wins",
		chains: []spec.FilterChainMatch{
			{},
			{PrefixRanges: prefixes("10.0.0.0/8")},
			{PrefixRanges: prefixes("10.1.0.0/16", "192.168.0.0/16")},
			{PrefixRanges: prefixes("::1/128")},
		},
		conns: []ConnInfo{
			conn("1.1.1.1:1", "10.1.2.3:80"), conn("1.1.1.1:1", "10.2.0.1:80"),
			conn("1.1.1.1:1", "192.168.4.4:80"), conn("1.1.1.1:1", "127.0.0.1:80"),
			conn("[::1]:1", "[::1]:80"), conn("[::1]:1", "[::2]:80"),
		},
		want: []int{2, 1, 2, 0, 3, 0},
	}, {
		name: "destination prefix is decided before source type",
		chains: []spec.FilterChainMatch{
			{SourceType: spec.SourceLocal},
			{PrefixRanges: prefixes("127.0.0.0/8"), SourceType: spec.SourceExternal},
		},
		conns: []ConnInfo{conn("127.0.0.1:1", "127.0.0.1:80")},
		want:  []int{-1},
	}, {
		name: "server name: exact, then longest wildcard, then none",
		chains: []spec.FilterChainMatch{
			{},
			{ServerNames: []string{"*.com"}},
			{ServerNames: []string{"*.example.com"}},
			{ServerNames: []string{"www.example.com", "api.example.org"}},
		},
		conns: []ConnInfo{
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "www.example.com"),
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "a.example.com"),
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "example.com"),
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "api.example.org"),
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "www.example.org"),
			conn("1.1.1.1:1", "2.2.2.2:443"),
		},
		want: []int{3, 2, 1, 3, 0, 0},
	}, {
		name: "transport protocol: exact, then none",
		chains: []spec.FilterChainMatch{
			{TransportProtocol: "raw_buffer"},
			{TransportProtocol: "tls"},
		},
		conns: []ConnInfo{conn("1.1.1.1:1", "2.2.2.2:443"), withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "")},
		want:  []int{0, 1},
	}, {
		name: "application protocols: first offered that a chain names",
		chains: []spec.FilterChainMatch{
			{},
			{ApplicationProtocols: []string{"h2"}},
			{ApplicationProtocols: []string{"http/1.1"}},
		},
		conns: []ConnInfo{
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "", "h2", "http/1.1"),
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "", "x", "http/1.1", "h2"),
			withSNI(conn("1.1.1.1:1", "2.2.2.2:443"), "", "x"),
		},
		want: []int{1, 2, 0},
	}, {
		name: "source type: local, external, else any",
		chains: []spec.FilterChainMatch{
			{SourceType: spec.SourceAny},
			{SourceType: spec.SourceLocal},
			{DestinationPort: 2, SourceType: spec.SourceExternal},
		},
		conns: []ConnInfo{
			conn("127.0.0.5:1", "10.0.0.1:1"), conn("10.0.0.1:1", "10.0.0.1:1"),
			conn("10.0.0.2:1", "10.0.0.1:1"), conn("10.0.0.2:1", "10.0.0.1:2"),
			conn("127.0.0.1:1", "10.0.0.1:2"), conn("[::1]:1", "[::1]:1"),
		},
		want: []int{1, 1, 0, 2, -1, 1},
	}, {
		name: "direct source prefix is decided before source type and source IP",
		chains: []spec.FilterChainMatch{
			{SourceType: spec.SourceLocal},
			{DirectSourcePrefixes: prefixes("10.0.0.0/8")},
		},
		conns: []ConnInfo{conn("10.0.0.1:1", "10.0.0.1:1"), conn("127.0.0.1:1", "10.0.0.1:1")},
		want:  []int{1, 0},
	}, {
		name: "longest source prefix, then exact source port",
		chains: []spec.FilterChainMatch{
			{},
			{SourcePrefixRanges: prefixes("10.0.0.0/8")},
			{SourcePrefixRanges: prefixes("10.0.0.0/8"), SourcePorts: []uint16{5000, 5001}},
			{SourcePrefixRanges: prefixes("10.9.0.0/16"), SourcePorts: []uint16{7000}},
		},
		conns: []ConnInfo{
			conn("10.1.1.1:5001", "1.1.1.1:1"), conn("10.1.1.1:6000", "1.1.1.1:1"),
			conn("11.1.1.1:5000", "1.1.1.1:1"), conn("10.9.1.1:7000", "1.1.1.1:1"),
			conn("10.9.1.1:5000", "1.1.1.1:1"),
		},
		want: []int{2, 1, 0, 3, -1},
	}, {
		name:   "ipv4-mapped addresses match ipv4 prefixes",
		chains: []spec.FilterChainMatch{{SourcePrefixRanges: prefixes("10.0.0.0/8")}},
		conns:  []ConnInfo{conn("[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.2]:1")},
		want:   []int{0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.chains)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := range tt.conns {
				got = append(got, m.Match(&tt.conns[i]))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chains (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileOverlap(t *testing.T) {
	tests := []struct {
		name   string
		chains []spec.FilterChainMatch
		want   *OverlapError // nil: no overlap
	}{{
		name:   "two empty matches",
		chains: []spec.FilterChainMatch{{}, {}},
		want:   &OverlapError{First: 0, Second: 1},
	}, {
		name: "a shared destination port",
		chains: []spec.FilterChainMatch{
			{DestinationPort: 80}, {DestinationPort: 81, SourcePorts: []uint16{1}}, {DestinationPort: 81, SourcePorts: []uint16{2, 1}},
		},
		want: &OverlapError{First: 1, Second: 2},
	}, {
		name: "the same prefix written two ways",
		chains: []spec.FilterChainMatch{
			{PrefixRanges: prefixes("10.0.0.0/8")}, {PrefixRanges: prefixes("10.1.2.3/8")},
		},
		want: &OverlapError{First: 0, Second: 1},
	}, {
		name: "different source types do not overlap",
		chains: []spec.FilterChainMatch{
			{SourceType: spec.SourceAny}, {SourceType: spec.SourceLocal}, {SourceType: spec.SourceExternal},
		},
	}, {
		name:   "repeated values in one chain",
		chains: []spec.FilterChainMatch{{SourcePorts: []uint16{1, 1}, PrefixRanges: prefixes("10.0.0.0/8", "10.0.0.0/8")}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.chains)
			var got *OverlapError
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("Compile: %v, want an *OverlapError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("overlap (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	m, err := Compile([]spec.FilterChainMatch{
		{},
		{DestinationPort: 8080, SourcePrefixRanges: prefixes("10.0.0.0/8", "192.168.0.0/16")},
		{DestinationPort: 8080, SourcePrefixRanges: prefixes("10.1.0.0/16"), SourcePorts: []uint16{5000}},
		{DestinationPort: 8080, SourceType: spec.SourceLocal},
		{PrefixRanges: prefixes("10.0.0.0/8"), ServerNames: []string{"*.example.com"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	ci := conn("10.1.2.3:5000", "10.0.0.9:8080")
	b.ReportAllocs()
	for b.Loop() {
		if m.Match(&ci) != 2 {
			b.Fatal("wrong chain")
		}
	}
}
