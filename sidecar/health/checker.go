// Package health runs a cluster's active health checks (Envoy's
// Cluster.health_checks): one goroutine per endpoint of the cluster,
// owned by the cluster's [cluster.Runtime] rather than by a configuration
// snapshot, so a configuration update keeps the checks and their verdicts.
// A verdict is the endpoint's [cluster.ActiveHealth]; when it changes the
// runtime rebuilds the cluster's picker, which leaves failing endpoints
// out.
package health

import (
	"log/slog"
	"reflect"
	"sync"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Checker checks the endpoints of one cluster. It implements
// [cluster.Checker]. Safe for concurrent use.
type Checker struct {
	name   string
	cfg    *spec.HealthCheck
	rt     *cluster.Runtime
	stats  *cluster.Stats
	logger *slog.Logger
	req    []byte // the HTTP request or gRPC message, built once

	mu     sync.Mutex
	eps    map[*cluster.State]*prober
	closed bool
}

var _ cluster.Checker = (*Checker)(nil)

// New returns a checker of the cluster named name with config cfg, which
// reports verdicts to rt (rebuilding its picker) and counts in
// stats.HealthCheck. It checks nothing until [Checker.Update].
func New(name string, cfg *spec.HealthCheck, rt *cluster.Runtime, stats *cluster.Stats, logger *slog.Logger) *Checker {
	c := &Checker{name: name, cfg: cfg, rt: rt, stats: stats, logger: logger.With("cluster", name),
		eps: map[*cluster.State]*prober{}}
	switch {
	case cfg.HTTP != nil:
		c.req = httpRequest(cfg.HTTP)
	case cfg.GRPC != nil:
		c.req = grpcRequest(cfg.GRPC.ServiceName)
	}
	return c
}

// Same reports whether cfg is the configuration c checks with, so a
// configuration update can keep c.
func (c *Checker) Same(cfg *spec.HealthCheck) bool { return reflect.DeepEqual(c.cfg, cfg) }

// Update starts checking the endpoints of cl that c does not check yet
// (those with [cluster.Endpoint.Active] set), and stops checking, and
// waits for, those cl no longer has.
func (c *Checker) Update(cl *cluster.Cluster) {
	want := map[*cluster.State]*cluster.ActiveHealth{}
	for _, e := range cl.Endpoints {
		if e.Active != nil {
			want[e.State] = e.Active
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	var stopped []*prober
	for st, p := range c.eps {
		if want[st] == nil {
			p.cancel()
			stopped = append(stopped, p)
			delete(c.eps, st)
		}
	}
	for st, h := range want {
		if c.eps[st] == nil {
			c.eps[st] = c.start(st, h)
		}
	}
	c.mu.Unlock()
	for _, p := range stopped {
		<-p.done
	}
}

// Close stops every check and waits for them.
func (c *Checker) Close() {
	c.mu.Lock()
	eps := c.eps
	c.eps, c.closed = nil, true
	c.mu.Unlock()
	for _, p := range eps {
		p.cancel()
	}
	for _, p := range eps {
		<-p.done
	}
}

// Checking returns the number of endpoints being checked.
func (c *Checker) Checking() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.eps)
}
