package balancer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// zoneHosts builds endpoints from "a:hhu b:hh": per locality, one letter
// per endpoint (h healthy, u unhealthy, d degraded), all of priority 0.
func zoneHosts(prefix, desc string) []*cluster.Endpoint {
	var out []*cluster.Endpoint
	for _, loc := range strings.Fields(desc) {
		name, letters, _ := strings.Cut(loc, ":")
		for _, c := range letters {
			e := &cluster.Endpoint{State: &cluster.State{Addr: fmt.Sprintf("%s-%s-%d", prefix, name, len(out))},
				Weight: 1, Locality: name}
			switch c {
			case 'u':
				e.Health = spec.Unhealthy
			case 'd':
				e.Health = spec.Degraded
			}
			out = append(out, e)
		}
	}
	return out
}

// localityShares picks n times and returns each locality's share in
// percent, rounded.
func localityShares(p cluster.Picker, n int) map[string]int {
	count := map[string]int{}
	for range n {
		e := p.Pick(0)
		if e == nil {
			count["none"]++
			continue
		}
		count[e.Locality]++
	}
	out := map[string]int{}
	for k, v := range count {
		out[k] = (100*v + n/2) / n
	}
	return out
}

// zoneCounts are the zone stats a test checks.
type zoneCounts struct{ Direct, Sampled, Cross, NotOK, TooSmall, Recalc uint64 }

func countsOf(st *cluster.ZoneStats) zoneCounts {
	return zoneCounts{st.RoutingAllDirectly.Load(), st.RoutingSampled.Load(), st.RoutingCrossZone.Load(),
		st.LocalClusterNotOK.Load(), st.ClusterTooSmall.Load(), st.Recalculate.Load()}
}

// TestZoneAwareShares checks Envoy's zone-aware split over 10,000 picks
// for each policy that does it: each locality's share within ±2 points,
// and the zone stats counted.
func TestZoneAwareShares(t *testing.T) {
	tests := []struct {
		name, local, upstream string
		zc                    *spec.ZoneAware
		want                  map[string]int
		counts                zoneCounts
	}{
		{name: "local zone has 2/3 of local hosts but 1/3 of upstream's: half stays, half crosses",
			local: "a:hh b:h", upstream: "a:hh b:hhhh", want: map[string]int{"a": 50, "b": 50},
			counts: zoneCounts{Sampled: 5000, Cross: 5000, Recalc: 1}},
		{name: "equal percentages: all local",
			local: "a:h b:h", upstream: "a:hhh b:hhh", want: map[string]int{"a": 100},
			counts: zoneCounts{Direct: 10000, Recalc: 1}},
		{name: "more upstream than local share: all local",
			local: "a:h b:hhh", upstream: "a:hhh b:hhh", want: map[string]int{"a": 100},
			counts: zoneCounts{Direct: 10000, Recalc: 1}},
		{name: "Envoy's example 40/40/20 local, 25/50/25 upstream: residual by spare capacity",
			local: "a:hh b:hh c:h", upstream: "a:hh b:hhhh c:hh", want: map[string]int{"a": 63, "b": 25, "c": 13},
			counts: zoneCounts{Sampled: 6250, Cross: 3750, Recalc: 1}},
		{name: "too small: no zone routing",
			local: "a:h b:h", upstream: "a:h b:hh", want: map[string]int{"a": 33, "b": 67},
			counts: zoneCounts{TooSmall: 1, Recalc: 1}},
		{name: "min_cluster_size lowered",
			local: "a:h b:h", upstream: "a:h b:hh", zc: &spec.ZoneAware{RoutingEnabled: 100, MinClusterSize: 3},
			want: map[string]int{"a": 67, "b": 33}, counts: zoneCounts{Sampled: 6666, Cross: 3334, Recalc: 1}}, // 3333*10000/5000, as Envoy rounds
		{name: "routing disabled",
			local: "a:h b:h", upstream: "a:hhh b:hhh", zc: &spec.ZoneAware{RoutingEnabled: 0, MinClusterSize: 6},
			want: map[string]int{"a": 50, "b": 50}, counts: zoneCounts{Recalc: 1}},
		{name: "local cluster has no host in the node's zone",
			local: "b:h c:h", upstream: "a:hhh b:hhh", want: map[string]int{"a": 50, "b": 50},
			counts: zoneCounts{NotOK: 1, Recalc: 1}},
		{name: "local cluster has one zone",
			local: "a:hh", upstream: "a:hhh b:hhh", want: map[string]int{"a": 50, "b": 50}, counts: zoneCounts{Recalc: 1}},
		{name: "local cluster in panic: per pick not ok, zones ignored",
			local: "a:huuu b:u", upstream: "a:hhh b:hhh", want: map[string]int{"a": 50, "b": 50},
			counts: zoneCounts{NotOK: 10000, Recalc: 1}},
		{name: "upstream's local zone unhealthy: all cross",
			local: "a:h b:h", upstream: "a:uu b:hhhhhh", want: map[string]int{"b": 100},
			counts: zoneCounts{Cross: 10000, Recalc: 1}},
	}
	for _, policy := range []string{RoundRobin, LeastRequest, Random} {
		for _, tt := range tests {
			t.Run(policy+"/"+tt.name, func(t *testing.T) {
				cfg := &spec.Cluster{LBPolicy: spec.LBPolicy(policy), PanicThreshold: 50, ZoneAware: tt.zc}
				var st cluster.ZoneStats
				z := &cluster.Zone{Locality: "a", Local: zoneHosts("local", tt.local)}
				p := BuildZoned(cfg, 0, zoneHosts("up", tt.upstream), z, &st)
				got := localityShares(p, 10000)
				for loc, want := range tt.want {
					if d := got[loc] - want; d < -2 || d > 2 {
						t.Errorf("locality %s share = %d%%, want %d%% ± 2 (all: %v)", loc, got[loc], want, got)
					}
				}
				if policy == Random {
					return // sampling is exact, the stats too, but least_request and random draw endpoints
				}
				if diff := cmp.Diff(tt.counts, countsOf(&st)); diff != "" {
					t.Errorf("zone stats (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestZoneAwareOnlyPriorityZero checks that priority 1's picks ignore
// zones, and that hashing policies and locality weighting never route by
// zone, as Envoy's.
func TestZoneAwareOnlyPriorityZero(t *testing.T) {
	z := &cluster.Zone{Locality: "a", Local: zoneHosts("local", "a:h b:h")}
	up := zoneHosts("up", "a:hhh b:hhh")
	for _, e := range up {
		e.Priority = 1
	}
	p := BuildZoned(&spec.Cluster{PanicThreshold: 50}, 0, up, z, nil)
	if got := localityShares(p, 1000); got["a"] != 50 {
		t.Errorf("priority 1 only: shares %v, want a 50%%", got)
	}
	for _, cfg := range []*spec.Cluster{
		{LBPolicy: RingHash, PanicThreshold: 50},
		{LBPolicy: Maglev, PanicThreshold: 50},
		{PanicThreshold: 50, LocalityWeighted: true},
	} {
		var st cluster.ZoneStats
		BuildZoned(cfg, 0, zoneHosts("up", "a:hhh b:hhh"), z, &st)
		if n := st.Recalculate.Load(); n != 0 {
			t.Errorf("%s (locality weighted %v): %d zone structures, want none", cfg.LBPolicy, cfg.LocalityWeighted, n)
		}
	}
}

// TestFailTrafficOnPanic checks that with fail_traffic_on_panic a level
// in panic, or a local cluster in panic, fails the pick.
func TestFailTrafficOnPanic(t *testing.T) {
	zc := &spec.ZoneAware{RoutingEnabled: 100, MinClusterSize: 1, FailTrafficOnPanic: true}
	cfg := &spec.Cluster{PanicThreshold: 50, ZoneAware: zc}
	if e := BuildLevels(cfg, 0, zoneHosts("up", "a:huuu")).Pick(0); e != nil {
		t.Errorf("upstream in panic: picked %s, want none", e.Addr)
	}
	z := &cluster.Zone{Locality: "a", Local: zoneHosts("local", "a:huu b:u")}
	if e := BuildZoned(cfg, 0, zoneHosts("up", "a:hh b:hh"), z, nil).Pick(0); e != nil {
		t.Errorf("local cluster in panic: picked %s, want none", e.Addr)
	}
	cfg.ZoneAware = nil
	if e := BuildLevels(cfg, 0, zoneHosts("up", "a:huuu")).Pick(0); e == nil {
		t.Error("upstream in panic without fail_traffic_on_panic: no pick, want one")
	}
}

func BenchmarkPickZoned(b *testing.B) {
	local := zoneHosts("local", "a:"+strings.Repeat("h", 40)+" b:"+strings.Repeat("h", 40)+" c:"+strings.Repeat("h", 20))
	up := zoneHosts("up", "a:"+strings.Repeat("h", 25)+" b:"+strings.Repeat("h", 50)+" c:"+strings.Repeat("h", 25))
	z := &cluster.Zone{Locality: "a", Local: local}
	for _, policy := range []string{RoundRobin, LeastRequest, Random} {
		p := BuildZoned(policyCfg(policy), 0, up, z, new(cluster.ZoneStats))
		if _, ok := p.(*zoned); !ok {
			b.Fatalf("%s: picker %T, want zoned", policy, p)
		}
		b.Run(policy+"/100", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p.Pick(0) == nil {
					b.Fatal("nil pick")
				}
			}
		})
	}
}

// TestExplainZoned checks the zone plan meshlb explain shows: the shares
// the picker takes, and why zone routing is off.
func TestExplainZoned(t *testing.T) {
	tests := []struct {
		name, local, upstream string
		want                  *ZonePlan
	}{
		{"Envoy's example", "a:hh b:hh c:h", "a:hh b:hhhh c:hh", &ZonePlan{State: "residual", Locality: "a", RoutingEnabled: 100,
			Localities: []ZoneLocality{{"a", 40, 25, 62.5}, {"b", 40, 50, 25}, {"c", 20, 25, 12.5}}}},
		{"direct", "a:h b:h", "a:hhh b:hhh", &ZonePlan{State: "direct", Locality: "a", RoutingEnabled: 100,
			Localities: []ZoneLocality{{"a", 50, 50, 100}, {"b", 50, 50, 0}}}},
		{"too small", "a:h b:h", "a:h b:hh", &ZonePlan{State: "off", Locality: "a", RoutingEnabled: 100,
			Why: "the upstream has fewer healthy priority-0 endpoints than min_cluster_size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := &cluster.Zone{Locality: "a", Local: zoneHosts("local", tt.local)}
			got := ExplainZoned(&spec.Cluster{PanicThreshold: 50}, 0, zoneHosts("up", tt.upstream), z)
			if diff := cmp.Diff(tt.want, got.Zone); diff != "" {
				t.Errorf("zone plan (-want +got):\n%s", diff)
			}
		})
	}
	if p := ExplainZoned(&spec.Cluster{}, 0, zoneHosts("up", "a:h"), nil); p.Zone != nil {
		t.Errorf("no local cluster: zone plan %+v, want none", p.Zone)
	}
}
