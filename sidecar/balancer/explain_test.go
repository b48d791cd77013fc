package balancer

import (
	"testing"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestPeekAgreesWithPick checks that Peek returns what a hashing picker
// picks, over priority levels too, and refuses pickers that take turns.
func TestPeekAgreesWithPick(t *testing.T) {
	eps := []*cluster.Endpoint{
		{State: &cluster.State{Addr: "10.0.0.1:80"}, Weight: 1},
		{State: &cluster.State{Addr: "10.0.0.2:80"}, Weight: 1, Health: spec.Unhealthy},
		{State: &cluster.State{Addr: "10.0.1.1:80"}, Weight: 1, Priority: 1},
	}
	for _, policy := range []spec.LBPolicy{RingHash, Maglev} {
		p := Build(&spec.Cluster{LBPolicy: policy, MaglevTableSize: 101, RingHash: &spec.RingHash{MinRingSize: 64}}, eps)
		for hash := uint64(1); hash < 1<<40; hash = hash*7 + 3 {
			got, ok := Peek(p, hash)
			if want := p.Pick(hash); !ok || got != want {
				t.Fatalf("%s: Peek(%#x) = %v, %v; Pick = %v", policy, hash, got, ok, want)
			}
		}
		if _, ok := Peek(p, 0); ok {
			t.Errorf("%s: Peek without a hash claims a pick", policy)
		}
	}
	if _, ok := Peek(Build(&spec.Cluster{}, eps), 42); ok {
		t.Error("round robin: Peek claims a pick")
	}
}
