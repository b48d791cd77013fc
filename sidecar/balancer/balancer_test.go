package balancer

import (
	"fmt"
	"testing"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func endpoints(weights ...uint32) []*cluster.Endpoint {
	var out []*cluster.Endpoint
	for i, w := range weights {
		out = append(out, &cluster.Endpoint{State: &cluster.State{Addr: fmt.Sprintf("10.0.0.%d:80", i)}, Weight: w})
	}
	return out
}

func policyCfg(name string) *spec.Cluster { return &spec.Cluster{LBPolicy: spec.LBPolicy(name)} }

func shares(p cluster.Picker, n int) map[string]int {
	got := map[string]int{}
	for range n {
		got[p.Pick(0).Addr]++
	}
	return got
}

func TestRoundRobinWeighted(t *testing.T) {
	eps := endpoints(5, 1, 1)
	p := Build(policyCfg(RoundRobin), eps)
	got := shares(p, 700)
	want := map[string]int{"10.0.0.0:80": 500, "10.0.0.1:80": 100, "10.0.0.2:80": 100}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("picks = %v, want %v", got, want)
			break
		}
	}
	// Smooth: the heavy endpoint never gets more than its share in a row.
	run, maxRun := 0, 0
	for range 7 {
		if p.Pick(0) == eps[0] {
			run++
			maxRun = max(maxRun, run)
		} else {
			run = 0
		}
	}
	if maxRun > 3 {
		t.Errorf("longest run of the weight-5 endpoint = %d, want <= 3 (smooth)", maxRun)
	}
}

func TestSkipsUnusableAndUsesBestPriority(t *testing.T) {
	// Priority 0 has 3 of 4 healthy: 3/4 × 140% ≥ 100%, so it keeps all
	// the traffic and its unhealthy endpoint gets none, whatever the policy.
	eps := endpoints(1, 1, 1, 1, 1, 1)
	eps[0].Health = spec.Unhealthy
	eps[4].Priority, eps[5].Priority = 1, 1
	for _, policy := range Names() {
		t.Run(policy, func(t *testing.T) {
			got := shares(Build(policyCfg(policy), eps), 1000)
			if got["10.0.0.1:80"]+got["10.0.0.2:80"]+got["10.0.0.3:80"] != 1000 {
				t.Errorf("picks = %v, want only the healthy priority-0 endpoints", got)
			}
		})
	}
	// Priority 0 down: priority 1 takes everything (HAProxy's backup servers).
	eps[1].Health, eps[2].Health, eps[3].Health = spec.Draining, spec.Unhealthy, spec.Unhealthy
	got := shares(Build(policyCfg(RoundRobin), eps), 100)
	if got["10.0.0.4:80"] != 50 || got["10.0.0.5:80"] != 50 {
		t.Errorf("failover picks = %v, want priority 1 split evenly", got)
	}
	eps[4].Health, eps[5].Health = spec.Unhealthy, spec.Unhealthy
	if e := Build(policyCfg(RoundRobin), eps).Pick(0); e != nil {
		t.Errorf("Pick() = %v with no usable endpoint and panic disabled, want nil", e.Addr)
	}
}

func TestLeastRequestPrefersIdle(t *testing.T) {
	eps := endpoints(1, 1)
	eps[0].Inflight.Store(10)
	got := shares(Build(policyCfg(LeastRequest), eps), 1000)
	// With two random choices, the busy endpoint wins only when both picks land on it.
	if got["10.0.0.0:80"] > 350 {
		t.Errorf("picks = %v, want the busy endpoint picked about 1/4 of the time", got)
	}
}

func TestRandomWeighted(t *testing.T) {
	got := shares(Build(policyCfg(Random), endpoints(3, 1)), 40000)
	if share := float64(got["10.0.0.0:80"]) / 40000; share < 0.73 || share > 0.77 {
		t.Errorf("share = %.3f, want 0.75 +- 0.02", share)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, policy := range Names() {
		for _, n := range []int{3, 100} {
			w := make([]uint32, n)
			for i := range w {
				w[i] = 1
			}
			p := Build(policyCfg(policy), endpoints(w...))
			b.Run(fmt.Sprintf("%s/%d", policy, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if p.Pick(0) == nil {
						b.Fatal("nil pick")
					}
				}
			})
		}
	}
	p := Build(policyCfg(RoundRobin), endpoints(5, 3, 1))
	b.Run("round_robin/weighted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Pick(0)
		}
	})
}

func BenchmarkPickParallel(b *testing.B) {
	p := Build(policyCfg(RoundRobin), endpoints(1, 1, 1))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Pick(0)
		}
	})
}
