package balancer

import (
	"container/heap"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestWeightedWithin2Percent picks 10,000 times with weights 1:2:3:4 and
// wants every endpoint's share within ±2 points of its weight's (round
// robin exactly). Hashing policies get 10,000 distinct keys on a large
// ring (the default 1024-point ring is only within ±3, TestHashWeighted).
func TestWeightedWithin2Percent(t *testing.T) {
	for _, policy := range Names() {
		t.Run(policy, func(t *testing.T) {
			cfg := &spec.Cluster{LBPolicy: spec.LBPolicy(policy), RingHash: &spec.RingHash{MinRingSize: 1 << 16}}
			p := Build(cfg, endpoints(1, 2, 3, 4))
			got := map[string]int{}
			for i := range 10000 {
				got[p.Pick(keyHash(i)).Addr]++
			}
			t.Logf("%s: %v", policy, got)
			for i, w := range []float64{0.1, 0.2, 0.3, 0.4} {
				addr := endpoints(1, 1, 1, 1)[i].Addr
				share := float64(got[addr]) / 10000
				if share < w-0.02 || share > w+0.02 {
					t.Errorf("%s share = %.3f, want %.2f ± 0.02", addr, share, w)
				}
				if policy == RoundRobin && got[addr] != int(w*10000) {
					t.Errorf("%s picks = %d, want exactly %d", addr, got[addr], int(w*10000))
				}
			}
		})
	}
}

// completion is a simulated request in flight.
type completion struct {
	at     time.Duration
	ep     *cluster.Endpoint
	client int
}

type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// simulateSlowShare runs a closed loop of clients (each sends its next
// request when the last one completes) through p over endpoints whose
// service time is 1ms, except the first, 10ms, in virtual time, and
// returns the slow endpoint's share of n requests. Outcomes go to p when
// it observes them, with the simulated latency.
func simulateSlowShare(p cluster.Picker, eps []*cluster.Endpoint, clients, n int) float64 {
	obs, _ := p.(cluster.Observer)
	service := func(e *cluster.Endpoint) time.Duration {
		if e == eps[0] {
			return 10 * time.Millisecond
		}
		return time.Millisecond
	}
	var q completions
	slow, sent := 0, 0
	send := func(now time.Duration, client int) {
		e := p.Pick(0)
		e.Inflight.Add(1)
		if e == eps[0] {
			slow++
		}
		sent++
		heap.Push(&q, completion{at: now + service(e), ep: e, client: client})
	}
	for c := range clients {
		send(0, c)
	}
	for sent < n {
		done := heap.Pop(&q).(completion)
		done.ep.Inflight.Add(-1)
		if obs != nil {
			obs.Observe(done.ep, cluster.Outcome{Status: 200, Latency: service(done.ep)})
		}
		send(done.at, done.client)
	}
	return float64(slow) / float64(sent)
}

// TestSlowEndpointShare: an endpoint 10x slower than the other four, in a
// closed loop of 10,000 requests. Peak EWMA sends it less than 1%; least
// request (which only sees requests in flight) less than 5% with
// choice_count 3 and 32 clients or 4 and 8; with Envoy's default
// choice_count 2 it gets about 4.5% with 32 clients and 6.5% with 8
// (logged, not asserted). Round robin gives it 20%.
func TestSlowEndpointShare(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *spec.Cluster
		clients int
		limit   float64 // 0: only logged
	}{
		{"peak_ewma/8 clients", policyCfg(PeakEWMA), 8, 0.01},
		{"peak_ewma/32 clients", policyCfg(PeakEWMA), 32, 0.01},
		{"least_request choice_count 3/32 clients", choices(3), 32, 0.05},
		{"least_request choice_count 4/8 clients", choices(4), 8, 0.05},
		{"least_request/32 clients", policyCfg(LeastRequest), 32, 0},
		{"least_request/8 clients", policyCfg(LeastRequest), 8, 0},
		{"round_robin/8 clients", policyCfg(RoundRobin), 8, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := endpoints(1, 1, 1, 1, 1)
			share := simulateSlowShare(Build(tt.cfg, eps), eps, tt.clients, 10000)
			t.Logf("%s: the 10x slower endpoint got %.2f%% of 10,000 requests", tt.name, 100*share)
			if tt.limit > 0 && share >= tt.limit {
				t.Errorf("slow share = %.4f, want < %.2f", share, tt.limit)
			}
		})
	}
}

func TestLeastRequestChoiceCount(t *testing.T) {
	eps := endpoints(1, 1, 1, 1)
	for _, e := range eps[1:] {
		e.Inflight.Store(5)
	}
	for _, tt := range []struct {
		choices  uint32
		lo, high float64 // P(idle among the candidates) = 1 - (3/4)^choices
	}{{2, 0.40, 0.48}, {8, 0.87, 0.93}} {
		cfg := &spec.Cluster{LBPolicy: LeastRequest, LeastRequest: &spec.LeastRequest{ChoiceCount: tt.choices}}
		share := float64(shares(Build(cfg, eps), 20000)["10.0.0.0:80"]) / 20000
		if share < tt.lo || share > tt.high {
			t.Errorf("choice_count %d: idle endpoint share = %.3f, want in [%.2f, %.2f]", tt.choices, share, tt.lo, tt.high)
		}
	}
}

func TestLeastRequestBias(t *testing.T) {
	eps := endpoints(3, 1)
	eps[0].Inflight.Store(10)
	// Bias 0: load ignored, weighted round robin (exactly 3:1).
	cfg := &spec.Cluster{LBPolicy: LeastRequest, LeastRequest: &spec.LeastRequest{BiasSet: true}}
	if got := shares(Build(cfg, eps), 400); got["10.0.0.0:80"] != 300 {
		t.Errorf("bias 0: picks = %v, want 300 of 400 to the weight-3 endpoint", got)
	}
	// Default bias: the busy heavy endpoint wins only when both candidates are it.
	cfg.LeastRequest = nil
	share := float64(shares(Build(cfg, eps), 20000)["10.0.0.0:80"]) / 20000
	if share < 0.53 || share > 0.60 { // (3/4)^2
		t.Errorf("default bias: busy endpoint share = %.3f, want about 0.56", share)
	}
}

// TestSlowStart: an endpoint added just now gets min_weight_percent of
// its share; halfway through the window with aggression 1, half of it.
func TestSlowStart(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		age      time.Duration
		policy   string
		lo, high float64
	}{
		{"new, round robin", 0, RoundRobin, 0.02, 0.045},         // 10% of 1/4 → 1/31 of picks
		{"half window", 5 * time.Second, RoundRobin, 0.12, 0.16}, // 50% of 1/4 → 1/7
		{"half window, least request", 5 * time.Second, LeastRequest, 0.12, 0.16},
		{"past the window", 20 * time.Second, RoundRobin, 0.24, 0.26},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := endpoints(1, 1, 1, 1)
			for _, e := range eps {
				e.Added = now.Add(-time.Hour).UnixNano()
			}
			eps[0].State.Added = now.Add(-tt.age).UnixNano()
			cfg := &spec.Cluster{LBPolicy: spec.LBPolicy(tt.policy),
				SlowStart: &spec.SlowStart{Window: 10 * time.Second, Aggression: 1, MinWeightPercent: 10}}
			share := float64(shares(Build(cfg, eps), 20000)["10.0.0.0:80"]) / 20000
			t.Logf("%s: new endpoint share %.3f", tt.name, share)
			if share < tt.lo || share > tt.high {
				t.Errorf("share = %.3f, want in [%.3f, %.3f]", share, tt.lo, tt.high)
			}
		})
	}
}

func choices(n uint32) *spec.Cluster {
	return &spec.Cluster{LBPolicy: LeastRequest, LeastRequest: &spec.LeastRequest{ChoiceCount: n}}
}
