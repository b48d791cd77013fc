package balancer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// levelsOf counts picks per priority level.
func levelsOf(n int, pick func() *cluster.Endpoint) map[uint32]int {
	out := map[uint32]int{}
	for range n {
		if e := pick(); e != nil {
			out[e.Priority]++
		}
	}
	return out
}

// TestPickSkipping: skipping priority levels spreads the load over the
// others as Envoy's previous_priorities retry priority does; skipping
// every level with availability picks as usual.
func TestPickSkipping(t *testing.T) {
	tests := []struct {
		name   string
		levels []string
		skip   uint64
		want   map[uint32]int // picks per priority out of 1000
	}{
		{"no skip: backup idle", []string{"hh", "hh"}, 0, map[uint32]int{0: 1000}},
		{"skip p0: backup takes all", []string{"hh", "hh"}, 1 << 0, map[uint32]int{1: 1000}},
		{"skip p1: p0 as usual", []string{"hh", "hh"}, 1 << 1, map[uint32]int{0: 1000}},
		{"skip p0 and p1: the third level", []string{"hh", "hh", "h"}, 1<<0 | 1<<1, map[uint32]int{2: 1000}},
		{"skip all: as usual", []string{"hh", "hh"}, 1<<0 | 1<<1, map[uint32]int{0: 1000}},
		{"skip p0: degraded backup", []string{"hh", "dd"}, 1 << 0, map[uint32]int{1: 1000}},
		{"skip p0: unavailable backup, as usual", []string{"hh", "uu"}, 1 << 0, map[uint32]int{0: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := BuildLevels(&spec.Cluster{PanicThreshold: 50}, 0, hosts(tt.levels...))
			s, ok := p.(cluster.LevelSkipper)
			if !ok {
				t.Fatalf("%T over %d levels is not a cluster.LevelSkipper", p, len(tt.levels))
			}
			got := levelsOf(1000, func() *cluster.Endpoint { return s.PickSkipping(0, tt.skip) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("picks per priority (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPickSkippingSplit: with p0 half up (70% of the load stays there),
// skipping p1 sends everything to p0, and skipping p0 everything to p1.
func TestPickSkippingSplit(t *testing.T) {
	p := BuildLevels(&spec.Cluster{PanicThreshold: 50}, 0, hosts("hhuu", "hh")).(cluster.LevelSkipper)
	for skip, want := range map[uint64]uint32{1 << 0: 1, 1 << 1: 0} {
		got := levelsOf(500, func() *cluster.Endpoint { return p.PickSkipping(0, skip) })
		if got[want] != 500 {
			t.Errorf("skip %b: picks per priority %v, want all 500 at priority %d", skip, got, want)
		}
	}
}

// TestPanicLevels: the picker names the priority levels in panic.
func TestPanicLevels(t *testing.T) {
	tests := []struct {
		name   string
		levels []string
		want   uint64
	}{
		{"all healthy", []string{"hh", "h"}, 0},
		{"one level in panic", []string{"huuu"}, 1},
		{"no panic at full availability", []string{"huuu", "hh"}, 0},
		{"total panic", []string{"huuu", "huu"}, 1<<0 | 1<<1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got uint64
			if pr, ok := BuildLevels(&spec.Cluster{PanicThreshold: 60}, 0, hosts(tt.levels...)).(cluster.PanicReporter); ok {
				got = pr.PanicLevels()
			}
			if got != tt.want {
				t.Errorf("PanicLevels() = %b, want %b", got, tt.want)
			}
		})
	}
}

// TestPickSkippingKeepsObserver: a policy that learns from outcomes
// still hears them through a picker over several levels.
func TestPickSkippingKeepsObserver(t *testing.T) {
	p := BuildLevels(&spec.Cluster{LBPolicy: PeakEWMA, PanicThreshold: 50}, 0, hosts("hh", "h"))
	if _, ok := p.(cluster.Observer); !ok {
		t.Errorf("%T is not a cluster.Observer", p)
	}
}

func TestPickSkippingAllocs(t *testing.T) {
	for _, policy := range Names() {
		p := BuildLevels(&spec.Cluster{LBPolicy: spec.LBPolicy(policy), PanicThreshold: 50}, 0, hosts("hhhu", "hh", "h")).(cluster.LevelSkipper)
		if n := testing.AllocsPerRun(100, func() { p.PickSkipping(12345, 1) }); n != 0 {
			t.Errorf("%s: %v allocs per PickSkipping, want 0", policy, n)
		}
	}
}

// BenchmarkPickLevels picks over two priority levels of 50 endpoints, as
// a first try (Pick) and as a retry skipping priority 0.
func BenchmarkPickLevels(b *testing.B) {
	levels := []string{strings.Repeat("h", 50), strings.Repeat("h", 50)}
	for _, policy := range Names() {
		p := BuildLevels(&spec.Cluster{LBPolicy: spec.LBPolicy(policy), PanicThreshold: 50}, 0, hosts(levels...)).(cluster.LevelSkipper)
		b.Run(policy+"/pick", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.(cluster.Picker).Pick(7)
			}
		})
		b.Run(policy+"/skip", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.PickSkipping(7, 1)
			}
		})
	}
}

// TestSkipsAll: skipping every level with available endpoints is
// reported, so a retry priority can start over; a level with none does
// not count.
func TestSkipsAll(t *testing.T) {
	p := BuildLevels(&spec.Cluster{PanicThreshold: 50}, 0, hosts("hh", "uu", "h")).(cluster.LevelSkipper)
	for _, tt := range []struct {
		skip uint64
		want bool
	}{{0, false}, {1, false}, {0b100, false}, {0b101, true}, {0b111, true}, {0b011, false}} {
		if got := p.SkipsAll(tt.skip); got != tt.want {
			t.Errorf("SkipsAll(%03b) = %v, want %v", tt.skip, got, tt.want)
		}
	}
}
