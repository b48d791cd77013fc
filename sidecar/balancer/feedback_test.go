package balancer

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// observing is a picker that counts the outcomes it is told, by failure
// kind and status class, as an outlier detector or EWMA balancer would.
type observing struct {
	cluster.Picker
	failures [cluster.LocalFailure + 1]atomic.Int64
	classes  [6]atomic.Int64
	latency  atomic.Int64
}

var _ cluster.Observer = (*observing)(nil)

func (o *observing) Observe(_ *cluster.Endpoint, out cluster.Outcome) {
	o.failures[out.Failure].Add(1)
	o.classes[out.Class()].Add(1)
	o.latency.Add(int64(out.Latency))
}

func TestDoneReachesInstalledObserver(t *testing.T) {
	eps := endpoints(1, 1)
	rt := &cluster.Runtime{}
	old := &observing{Picker: Build(policyCfg(RoundRobin), eps)}
	rt.Install(old)
	// A snapshot's cluster whose own picker is stale: the runtime's wins.
	cl := &cluster.Cluster{Picker: Build(policyCfg(RoundRobin), eps[:1]), Runtime: rt}
	pk := cl.Pick(0)
	time.Sleep(time.Millisecond)
	pk.Done(cluster.Outcome{Status: 503})
	next := &observing{Picker: Build(policyCfg(Random), eps)}
	rt.Install(next)
	cl.Pick(0).Done(cluster.Outcome{Failure: cluster.ConnectFailure})
	got := []int64{old.classes[5].Load(), next.failures[cluster.ConnectFailure].Load(), next.classes[5].Load()}
	if diff := cmp.Diff([]int64{1, 1, 0}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if l := time.Duration(old.latency.Load()); l < time.Millisecond {
		t.Errorf("latency = %v, want >= 1ms", l)
	}
}

func TestDefaultPolicyIsRoundRobin(t *testing.T) {
	if got := Policy(policyCfg("")); got != RoundRobin {
		t.Errorf("Policy() = %q, want %q", got, RoundRobin)
	}
}

// BenchmarkPickDone is one attempt's balancer work: a pick through the
// cluster's runtime and its outcome reported, to a picker that observes
// outcomes (two clock reads for the latency) and to one that does not.
func BenchmarkPickDone(b *testing.B) {
	for _, observe := range []bool{false, true} {
		var p cluster.Picker = Build(policyCfg(RoundRobin), endpoints(1, 1, 1))
		if observe {
			p = &observing{Picker: p}
		}
		rt := &cluster.Runtime{}
		rt.Install(p)
		cl := &cluster.Cluster{Runtime: rt}
		b.Run(fmt.Sprintf("observer=%v", observe), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pk := cl.Pick(0)
				pk.Done(cluster.Outcome{Status: 200})
			}
		})
	}
}

// BenchmarkPickSwapParallel picks and reports outcomes from every P while
// another goroutine keeps installing a new picker in the runtime (a
// snapshot swap, or a rebuild after a health change), for each policy
// over 100 endpoints in two priority levels with one endpoint down.
func BenchmarkPickSwapParallel(b *testing.B) {
	for _, policy := range Names() {
		b.Run(policy, func(b *testing.B) {
			w := make([]uint32, 100)
			for i := range w {
				w[i] = 1
			}
			eps := endpoints(w...)
			for _, e := range eps[90:] {
				e.Priority = 1
			}
			eps[0].Health = spec.Unhealthy
			cfg := &spec.Cluster{LBPolicy: spec.LBPolicy(policy), PanicThreshold: 50}
			rt := &cluster.Runtime{}
			rt.Install(Build(cfg, eps))
			cl := &cluster.Cluster{Runtime: rt}
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
						rt.Install(Build(cfg, eps))
					}
				}
			}()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				h := uint64(1)
				for pb.Next() {
					h = h*6364136223846793005 + 1442695040888963407
					pk := cl.Pick(h | 1)
					pk.Done(cluster.Outcome{Status: 200})
				}
			})
			b.StopTimer()
			close(stop)
			<-done
		})
	}
}
