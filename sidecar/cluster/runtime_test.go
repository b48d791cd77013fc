package cluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// first always picks its endpoint.
type first struct{ ep *Endpoint }

func (f first) Pick(uint64) *Endpoint { return f.ep }

// tally counts outcomes by status, as an outlier detector would count
// 5xx; as a picker it picks like first.
type tally struct {
	first
	got map[int]int
}

func (t *tally) Observe(_ *Endpoint, o Outcome) { t.got[o.Status]++ }

func TestAttachedObserversSeeEveryOutcome(t *testing.T) {
	ep := &Endpoint{State: &State{Addr: "10.0.0.1:80"}}
	rt := &Runtime{}
	cl := &Cluster{Runtime: rt, Picker: first{ep}}
	detector := &tally{got: map[int]int{}}
	balancer := &tally{first: first{ep}, got: map[int]int{}}
	rt.Install(balancer)
	rt.Attach(detector)
	cl.Pick(0).Done(Outcome{Status: 200})
	rt.Install(first{ep}) // a picker that does not observe
	cl.Pick(0).Done(Outcome{Status: 503})
	rt.Install(balancer)
	cl.Pick(0).Done(Outcome{Status: 502})
	if diff := cmp.Diff(map[int]int{200: 1, 503: 1, 502: 1}, detector.got); diff != "" {
		t.Errorf("attached observer's outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]int{200: 1, 502: 1}, balancer.got); diff != "" {
		t.Errorf("observing picker's outcomes (-want +got):\n%s", diff)
	}
}

func BenchmarkPickDoneAttached(b *testing.B) {
	ep := &Endpoint{State: &State{Addr: "10.0.0.1:80"}}
	rt := &Runtime{}
	rt.Install(&tally{first: first{ep}, got: map[int]int{}})
	rt.Attach(&tally{got: map[int]int{}})
	cl := &Cluster{Runtime: rt}
	b.ReportAllocs()
	for b.Loop() {
		cl.Pick(0).Done(Outcome{Status: 200})
	}
}
