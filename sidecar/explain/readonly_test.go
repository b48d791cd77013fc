package explain

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar"
)

// picks returns the next n endpoints cluster name of sc picks.
func picks(sc *sidecar.Sidecar, name string, n int) []string {
	c := sc.Snapshot().Clusters[name]
	var out []string
	for range n {
		out = append(out, c.Pick(0).Endpoint.Addr)
	}
	return out
}

// TestExplainChangesNothing explains many requests and connections, then
// checks that no counter moved, the round robin did not advance and the
// token bucket kept its tokens.
func TestExplainChangesNothing(t *testing.T) {
	quiet, busy := newSidecar(t, "http"), newSidecar(t, "http")
	before := busy.Counters()
	for range 20 {
		for _, p := range []string{"GET+http://api/users/7", "DELETE+http://api/users/7&from=192.168.1.9:1",
			"GET+http://api/split", "GET+http://api/hash&header=x-user:+a", "GET+http://api/failover"} {
			explainQuery(t, busy, http+p)
		}
	}
	if diff := cmp.Diff(before, busy.Counters()); diff != "" {
		t.Errorf("counters moved (-before +after):\n%s", diff)
	}
	for _, name := range []string{"api", "failover"} {
		if diff := cmp.Diff(picks(quiet, name, 8), picks(busy, name, 8)); diff != "" {
			t.Errorf("cluster %s: round robin moved (-unexplained +explained):\n%s", name, diff)
		}
	}
	edge := newSidecar(t, "tcp")
	for range 150 {
		explainQuery(t, edge, tcp+"tcp://127.0.0.1:9000&from=10.0.0.5:5555")
	}
	r := explainQuery(t, edge, tcp+"tcp://127.0.0.1:9000&from=10.0.0.5:5555")
	if d := r.Network[0].Verdict.Detail; !strings.HasPrefix(d, "token bucket holds 100 of 100 tokens") {
		t.Errorf("rate limit after 150 explanations: %s", d)
	}
}
