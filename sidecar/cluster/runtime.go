package cluster

import (
	"sync"
	"sync/atomic"
	"time"
)

// Failure says how an attempt on an endpoint failed, as far as the
// endpoint is concerned.
type Failure uint8

// Failures, from the endpoint's point of view.
const (
	// NoFailure: the endpoint answered (Outcome.Status holds the status for
	// HTTP) or, for TCP, accepted the connection.
	NoFailure Failure = iota
	// ConnectFailure: no connection could be made; nothing was sent.
	ConnectFailure
	// Reset: the endpoint closed or reset the connection, or broke the
	// protocol, before the exchange was complete.
	Reset
	// Timeout: the endpoint did not answer in time.
	Timeout
	// LocalFailure: the attempt ended for a reason that says nothing about
	// the endpoint (the client went away or sent a malformed body, a
	// circuit breaker refused it, a pooled connection had gone stale).
	LocalFailure
)

// Outcome is how one attempt on a picked endpoint ended (grpc's
// balancer.DoneInfo).
type Outcome struct {
	// Status is the response status, or 0 when no response head arrived
	// (or for TCP).
	Status  int
	Failure Failure
	// Latency is the time from the pick to Done; [Pick.Done] fills it.
	Latency time.Duration
}

// Class returns the status class (2 for 2xx ...), or 0 without a status.
func (o Outcome) Class() int { return o.Status / 100 }

// Observer receives the outcome of attempts on endpoints. A [Picker] that
// implements it gets the outcomes of its cluster's attempts. Observe must
// not block, do I/O or allocate; it is called on the request path,
// concurrently. Per-endpoint state belongs in ep's [State] or in a map
// keyed by it, never in a snapshot, so it survives configuration changes.
type Observer interface {
	Observe(ep *Endpoint, o Outcome)
}

// Pick is the result of a pick (grpc's balancer.PickResult): the endpoint,
// or nil when none is usable, and where its outcome goes. It is a small
// value: picking and Done allocate nothing. A caller may replace Endpoint
// with another endpoint of the cluster before the attempt (a redispatch to
// one not yet tried); the outcome then concerns that one.
type Pick struct {
	Endpoint *Endpoint
	obs      Observer
	start    time.Time
}

// Done reports the outcome of the attempt made on p.Endpoint. The data
// plane calls it exactly once per attempt (a pick not used for an attempt
// is dropped without Done), from the goroutine that made the attempt.
func (p Pick) Done(o Outcome) {
	if p.obs == nil || p.Endpoint == nil {
		return
	}
	o.Latency = time.Since(p.start)
	p.obs.Observe(p.Endpoint, o)
}

// Runtime is a cluster's state that outlives configuration snapshots,
// kept by name in the [Registry]: the picker in force and the observers of
// outcomes. Balancers that learn from outcomes (EWMA) implement
// [Observer] on their picker; outlier detection and active health checks
// [Runtime.Attach] themselves. Either way the forwarder never knows who
// listens. Safe for concurrent use.
type Runtime struct {
	cur atomic.Pointer[installed]
	mu  sync.Mutex // serializes Install and Attach, guards h
	// attached observe every outcome, whatever the picker.
	attached []Observer
	h        runtimeHealth
	w        weights // an operator's endpoint weights (weights.go)
	// followers are rebuilt after the runtime is (zone.go).
	followers []*Runtime
}

type installed struct {
	picker Picker
	obs    Observer // nil: nobody listens
	panic  uint64   // the picker's PanicLevels
}

// Install puts p in force for every snapshot's view of the cluster. If p
// is an [Observer] it receives, with the attached observers, the outcomes
// of picks made from now on.
func (r *Runtime) Install(p Picker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.rebuild = nil
	r.install(p)
}

// Attach adds obs to the observers of every outcome of the cluster's
// attempts from now on, across Installs. It must not be called on the
// request path.
func (r *Runtime) Attach(obs Observer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attached = append(r.attached, obs)
	if in := r.cur.Load(); in != nil {
		r.install(in.picker)
	}
}

// install stores p with its observers; r.mu is held.
func (r *Runtime) install(p Picker) {
	var all observers
	if obs, ok := p.(Observer); ok {
		all = append(all, obs)
	}
	all = append(all, r.attached...)
	in := &installed{picker: p}
	if pr, ok := p.(PanicReporter); ok {
		in.panic = pr.PanicLevels()
	}
	switch len(all) {
	case 0:
	case 1:
		in.obs = all[0]
	default:
		in.obs = all
	}
	r.cur.Store(in)
}

// Picker returns the picker in force, or nil before the first Install.
func (r *Runtime) Picker() Picker {
	if in := r.cur.Load(); in != nil {
		return in.picker
	}
	return nil
}

// observers tells each of several observers, in order.
type observers []Observer

func (all observers) Observe(ep *Endpoint, o Outcome) {
	for _, obs := range all {
		obs.Observe(ep, o)
	}
}
