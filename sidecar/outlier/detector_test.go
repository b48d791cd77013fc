package outlier

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// usable picks the first usable endpoint, as a rebuilt picker would.
type usable []*cluster.Endpoint

func (u usable) Pick(uint64) *cluster.Endpoint {
	for _, e := range u {
		if e.Usable() {
			return e
		}
	}
	return nil
}

// fixture is a cluster of n endpoints with outlier detection cfg, its
// picker rebuilt over ejections, and its detector.
type fixture struct {
	c     *cluster.Cluster
	stats *cluster.Stats
	d     *Detector
}

func newFixture(t testing.TB, n int, cfg spec.OutlierDetection) *fixture {
	rt := &cluster.Runtime{}
	f := &fixture{stats: &cluster.Stats{}}
	f.c = &cluster.Cluster{Name: "be", Runtime: rt, Stats: f.stats, Outlier: &cfg}
	for i := range n {
		st := &cluster.State{Addr: fmt.Sprintf("10.0.0.%d:80", i+1)}
		f.c.Endpoints = append(f.c.Endpoints, &cluster.Endpoint{State: st, Weight: 1, Outlier: rt.Ejection(st)})
	}
	f.c.Rebuild = func() cluster.Picker { return usable(f.c.Endpoints) }
	rt.InstallFunc(f.c.Rebuild)
	f.d = New("be", rt, &f.stats.Outlier, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rt.SetDetector(f.d)
	f.d.Update(f.c)
	t.Cleanup(func() { rt.SetDetector(nil) })
	return f
}

// report tells the detector, through a pick of endpoint i, n outcomes o.
func (f *fixture) report(i, n int, o cluster.Outcome) {
	for range n {
		p := f.c.Pick(0)
		p.Endpoint = f.c.Endpoints[i]
		p.Done(o)
	}
}

func (f *fixture) ejected() []bool {
	var out []bool
	for _, e := range f.c.Endpoints {
		out = append(out, e.Outlier.Ejected())
	}
	return out
}

func defaults() spec.OutlierDetection {
	return spec.OutlierDetection{
		Consecutive5xx: 5, EnforcingConsecutive5xx: 100,
		ConsecutiveGatewayFailure: 5, EnforcingConsecutiveGatewayFailure: 0,
		ConsecutiveLocalOriginFailure: 5, EnforcingConsecutiveLocalOriginFailure: 100,
		Interval: 10 * time.Second, BaseEjectionTime: 30 * time.Second, MaxEjectionTime: 300 * time.Second,
		MaxEjectionPercent: 100,
	}
}

var (
	s503    = cluster.Outcome{Status: 503}
	s500    = cluster.Outcome{Status: 500}
	s200    = cluster.Outcome{Status: 200}
	timeout = cluster.Outcome{Failure: cluster.Timeout}
	refused = cluster.Outcome{Failure: cluster.ConnectFailure}
	local   = cluster.Outcome{Failure: cluster.LocalFailure}
)

func TestDetectors(t *testing.T) {
	gateway := defaults()
	gateway.Consecutive5xx, gateway.EnforcingConsecutiveGatewayFailure, gateway.ConsecutiveGatewayFailure = 100, 100, 3
	split := defaults()
	split.SplitLocalOrigin, split.ConsecutiveLocalOriginFailure = true, 2
	tests := []struct {
		name    string
		cfg     spec.OutlierDetection
		outcome []cluster.Outcome
		want    bool
	}{
		{"five 5xx eject", defaults(), []cluster.Outcome{s503, s500, s503, s500, s503}, true},
		{"four 5xx do not", defaults(), []cluster.Outcome{s503, s503, s503, s503}, false},
		{"a success resets", defaults(), []cluster.Outcome{s503, s503, s503, s503, s200, s503}, false},
		{"timeouts and refusals count as 5xx", defaults(), []cluster.Outcome{timeout, refused, timeout, refused, timeout}, true},
		{"local failures say nothing", defaults(), []cluster.Outcome{s503, s503, local, local, s503, s503}, false},
		{"gateway failure not enforced by default", func() spec.OutlierDetection {
			c := defaults()
			c.Consecutive5xx = 100
			return c
		}(), []cluster.Outcome{s503, s503, s503, s503, s503, s503}, false},
		{"gateway failures when enforced", gateway, []cluster.Outcome{s503, timeout, s503}, true},
		{"500 is not a gateway failure", gateway, []cluster.Outcome{s503, s500, s503, s503}, false},
		{"split: local origin apart", split, []cluster.Outcome{timeout, refused}, true},
		{"split: timeouts are not 5xx", func() spec.OutlierDetection {
			c := split
			c.ConsecutiveLocalOriginFailure = 100
			return c
		}(), []cluster.Outcome{timeout, timeout, timeout, timeout, timeout, timeout}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, 2, tt.cfg)
				for _, o := range tt.outcome {
					f.report(0, 1, o)
				}
				synctest.Wait()
				if got := f.ejected()[0]; got != tt.want {
					t.Errorf("ejected = %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestEjectionTimeGrowsAndCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := defaults()
		cfg.Interval, cfg.BaseEjectionTime, cfg.MaxEjectionTime = time.Second, 3*time.Second, 5*time.Second
		f := newFixture(t, 2, cfg)
		var got []time.Duration
		for range 3 {
			start := time.Now()
			f.report(0, 5, s503)
			synctest.Wait()
			if f.c.Pick(0).Endpoint != f.c.Endpoints[1] {
				t.Fatal("ejected endpoint still picked")
			}
			for f.ejected()[0] {
				time.Sleep(100 * time.Millisecond)
			}
			got = append(got, time.Since(start))
			if f.c.Pick(0).Endpoint != f.c.Endpoints[0] {
				t.Fatal("returned endpoint not picked")
			}
		}
		// 3s, then 6s capped at 5s, twice, each rounded up to the next
		// review (interval 1s, polled every 100ms).
		for i, want := range []time.Duration{3 * time.Second, 5 * time.Second, 5 * time.Second} {
			if got[i] < want || got[i] > want+cfg.Interval+100*time.Millisecond {
				t.Errorf("ejection %d lasted %v, want %v to %v", i+1, got[i], want, want+cfg.Interval)
			}
		}
		if n := f.stats.Outlier.EnforcedTotal.Load(); n != 3 {
			t.Errorf("ejections_enforced_total = %d, want 3", n)
		}
	})
}

func TestMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		name    string
		hosts   int
		percent uint32
		want    int // ejected when all fail
	}{
		{"default 10% of 3 ejects one, as Envoy (0% ejected < 10%)", 3, 10, 1},
		{"10% of 10 ejects one", 10, 10, 1},
		{"10% of 11 ejects two", 11, 10, 2},
		{"50% of 4 ejects two", 4, 50, 2},
		{"0% ejects none", 3, 0, 0},
		{"100% ejects all", 3, 100, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := defaults()
				cfg.MaxEjectionPercent = tt.percent
				f := newFixture(t, tt.hosts, cfg)
				for i := range tt.hosts {
					f.report(i, 5, s503)
					synctest.Wait()
				}
				n := 0
				for _, e := range f.ejected() {
					if e {
						n++
					}
				}
				if n != tt.want {
					t.Errorf("ejected %d, want %d", n, tt.want)
				}
				if o := f.stats.Outlier.Overflow.Load(); o != uint64(tt.hosts-tt.want) {
					t.Errorf("ejections_overflow = %d, want %d", o, tt.hosts-tt.want)
				}
			})
		})
	}
}

func TestUpdateKeepsEjections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, 2, defaults())
		f.report(0, 5, s503)
		synctest.Wait()
		next := *f.c
		cfg := defaults()
		cfg.Interval = time.Second
		next.Outlier = &cfg
		next.Endpoints = append([]*cluster.Endpoint(nil), f.c.Endpoints...)
		f.d.Update(&next)
		if !f.ejected()[0] {
			t.Fatal("update un-ejected the endpoint")
		}
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if f.ejected()[0] {
			t.Error("still ejected after base_ejection_time")
		}
	})
}

func BenchmarkObserve(b *testing.B) {
	f := newFixture(b, 10, defaults())
	ep := f.c.Endpoints[3]
	b.ReportAllocs()
	for b.Loop() {
		f.d.Observe(ep, s200)
	}
}

func TestSuccessRate(t *testing.T) {
	tests := []struct {
		name     string
		hosts    int
		requests int
		want     bool
	}{
		{"50% among four at 100% is ejected", 5, 20, true},
		{"too few hosts with the volume", 4, 20, false},
		{"below the request volume", 5, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := defaults()
				cfg.Consecutive5xx = 1000
				cfg.SuccessRateMinimumHosts, cfg.SuccessRateRequestVolume = 5, 10
				cfg.SuccessRateStdevFactor, cfg.EnforcingSuccessRate = 1900, 100
				f := newFixture(t, tt.hosts, cfg)
				last := tt.hosts - 1
				for i := range last {
					f.report(i, tt.requests, s200)
				}
				for range tt.requests / 2 {
					f.report(last, 1, s503)
					f.report(last, 1, s200)
				}
				time.Sleep(cfg.Interval + time.Millisecond)
				synctest.Wait()
				if got := f.ejected()[last]; got != tt.want {
					t.Errorf("ejected = %v, want %v", got, tt.want)
				}
				if got := f.stats.Outlier.EnforcedSuccessRate.Load() == 1; got != tt.want {
					t.Errorf("ejections_enforced_success_rate = %d", f.stats.Outlier.EnforcedSuccessRate.Load())
				}
			})
		})
	}
}
