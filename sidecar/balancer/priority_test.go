package balancer

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// hosts builds endpoints from a compact description: one string per
// priority, one letter per endpoint: h healthy, d degraded, u unhealthy;
// x healthy but disabled and r healthy but drained by an operator.
func hosts(levels ...string) []*cluster.Endpoint {
	var out []*cluster.Endpoint
	for p, l := range levels {
		for _, c := range l {
			e := &cluster.Endpoint{State: &cluster.State{Addr: fmt.Sprintf("p%d-%d", p, len(out))}, Weight: 1, Priority: uint32(p)}
			switch c {
			case 'd':
				e.Health = spec.Degraded
			case 'u':
				e.Health = spec.Unhealthy
			case 'x':
				e.State.Admin.Store(uint32(cluster.AdminDisabled))
			case 'r':
				e.State.Admin.Store(uint32(cluster.AdminDrain))
			}
			out = append(out, e)
		}
	}
	return out
}

func TestPriorityLoads(t *testing.T) {
	tests := []struct {
		name      string
		levels    []string
		factor    uint64
		threshold float64
		want      loads
	}{
		{"all healthy", []string{"hhhh", "hh"}, 140, 50,
			loads{healthy: []uint64{100, 0}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"3 of 4 overprovisioned", []string{"hhhu", "hh"}, 140, 50,
			loads{healthy: []uint64{100, 0}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"half spills", []string{"hhuu", "hh"}, 140, 50,
			loads{healthy: []uint64{70, 30}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"no overprovisioning", []string{"hhhu", "hh"}, 100, 50,
			loads{healthy: []uint64{75, 25}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"backup takes all", []string{"uuuu", "hh"}, 140, 50,
			loads{healthy: []uint64{0, 100}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"degraded fill in", []string{"hddd"}, 140, 50,
			loads{healthy: []uint64{35}, degraded: []uint64{65}, panic: []bool{false}}},
		{"healthy backup before degraded", []string{"hddd", "hh"}, 140, 50,
			loads{healthy: []uint64{35, 65}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"panic one level", []string{"huu"}, 140, 50,
			loads{healthy: []uint64{100}, degraded: []uint64{0}, panic: []bool{true}}},
		{"panic disabled", []string{"huu"}, 140, 0,
			loads{healthy: []uint64{100}, degraded: []uint64{0}, panic: []bool{false}}},
		{"total panic by count", []string{"huuu", "huu"}, 140, 60,
			loads{healthy: []uint64{58, 42}, degraded: []uint64{0, 0}, panic: []bool{true, true}}},
		{"nothing up, panic disabled", []string{"uu", "u"}, 140, 0,
			loads{healthy: []uint64{100, 0}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
		{"nothing up, panic", []string{"uu", "u"}, 140, 50,
			loads{healthy: []uint64{67, 33}, degraded: []uint64{0, 0}, panic: []bool{true, true}}},
		{"no panic at full availability", []string{"huuu", "hh"}, 140, 50,
			loads{healthy: []uint64{35, 65}, degraded: []uint64{0, 0}, panic: []bool{false, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := computeLoads(levels(hosts(tt.levels...)), tt.factor, tt.threshold)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(loads{})); diff != "" {
				t.Errorf("loads (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrioritySpillOver picks through the built pickers: exact shares with
// round robin (the level split is a smooth schedule too).
func TestPrioritySpillOver(t *testing.T) {
	tests := []struct {
		name      string
		levels    []string
		threshold float64
		factor    uint32
		want      map[string]int
	}{
		{"backup idle", []string{"hh", "h"}, 50, 0, map[string]int{"p0-0": 500, "p0-1": 500}},
		{"backup takes all", []string{"uu", "h"}, 50, 0, map[string]int{"p1-2": 1000}},
		{"half spills", []string{"hhuu", "hh"}, 50, 0, map[string]int{"p0-0": 350, "p0-1": 350, "p1-4": 150, "p1-5": 150}},
		{"overprovisioning 100", []string{"hhhu", "h"}, 50, 100, map[string]int{"p0-0": 250, "p0-1": 250, "p0-2": 250, "p1-4": 250}},
		{"degraded only when needed", []string{"hhhd"}, 50, 0, map[string]int{"p0-0": 334, "p0-1": 333, "p0-2": 333}},
		{"degraded fill in", []string{"hddd"}, 50, 0, map[string]int{"p0-0": 350, "p0-1": 217, "p0-2": 217, "p0-3": 216}},
		{"panic: all endpoints", []string{"huu"}, 50, 0, map[string]int{"p0-0": 334, "p0-1": 333, "p0-2": 333}},
		{"below threshold, disabled", []string{"huu"}, 0, 0, map[string]int{"p0-0": 1000}},
		{"panic never picks an operator-disabled endpoint", []string{"xuu"}, 50, 0, map[string]int{"p0-1": 500, "p0-2": 500}},
		{"panic never picks a drained endpoint", []string{"ruu"}, 50, 0, map[string]int{"p0-1": 500, "p0-2": 500}},
		{"operator-disabled level: backup takes all", []string{"x", "h"}, 50, 0, map[string]int{"p1-1": 1000}},
		{"a drained endpoint does not count in health", []string{"hhhr", "h"}, 50, 100, map[string]int{"p0-0": 334, "p0-1": 333, "p0-2": 333}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &spec.Cluster{PanicThreshold: tt.threshold}
			got := shares(BuildLevels(cfg, tt.factor, hosts(tt.levels...)), 1000)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("picks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAllHeldPicksNothing checks that a cluster whose every endpoint an
// operator disabled or drained picks none, panic threshold or not.
func TestAllHeldPicksNothing(t *testing.T) {
	for _, threshold := range []float64{0, 50} {
		p := BuildLevels(&spec.Cluster{PanicThreshold: threshold}, 0, hosts("xr", "x"))
		if e := p.Pick(0); e != nil {
			t.Errorf("threshold %v: picked %s, want none", threshold, e.Addr)
		}
	}
}

func TestLocalityWeighted(t *testing.T) {
	eps := hosts("hhhhhu")
	for i, e := range eps {
		e.Locality, e.LocalityWeight = "a", 1
		if i >= 2 {
			e.Locality, e.LocalityWeight = "b", 3
		}
	}
	cfg := &spec.Cluster{LocalityWeighted: true, PanicThreshold: 50}
	// a: weight 1, all healthy. b: weight 3, 3 of 4 healthy (×1.4 caps at 1).
	got := shares(BuildLevels(cfg, 0, eps), 4000)
	want := map[string]int{"p0-0": 500, "p0-1": 500, "p0-2": 1000, "p0-3": 1000, "p0-4": 1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// b with 1 of 4 healthy: availability 35%, so 3×35 against 1×100.
	eps[3].Health, eps[4].Health = spec.Unhealthy, spec.Unhealthy
	got = shares(BuildLevels(cfg, 0, eps), 4100)
	want = map[string]int{"p0-0": 1000, "p0-1": 1000, "p0-2": 2100}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
	// No locality weight: Envoy falls back to all healthy endpoints.
	for _, e := range eps {
		e.LocalityWeight = 0
	}
	got = shares(BuildLevels(cfg, 0, eps), 300)
	want = map[string]int{"p0-0": 100, "p0-1": 100, "p0-2": 100}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("picks (-want +got):\n%s", diff)
	}
}
