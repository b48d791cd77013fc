package httpfilter

import (
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// Builder compiles one filter type's configuration into a [Filter].
type Builder interface {
	// TypeURL is the Envoy type URL of the filter's configuration, e.g.
	// "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault".
	TypeURL() string
	// Build compiles cfg, the value sidecar/config decoded for TypeURL
	// (the listener's or a route's), into a filter. A nil Filter and nil
	// error means the configuration does nothing (e.g. a rate limit
	// enabled for 0% of requests): the chain leaves it out.
	Build(cfg any, env Env) (Filter, error)
}

// Env is what a builder gets besides its configuration.
type Env struct {
	// Scope names where the configuration applies, e.g.
	// "listener/filter" or "listener/filter/route/vhost/3": state kept
	// in State should be keyed by it.
	Scope string
	// State carries filter state (token buckets) from the previous
	// snapshot's build to this one.
	State *State
	// StatPrefix is the HTTP connection manager's stat_prefix.
	StatPrefix string
	// Counter returns the counter with an Envoy stat name, such as
	// "rl.http_local_rate_limit.ok"; counters outlive snapshots. nil: each
	// filter counts on its own.
	Counter func(name string) *atomic.Uint64
	// Histogram returns the histogram with an Envoy stat name, such as
	// "cluster.web.grpc.upstream_rq_time"; histograms outlive snapshots.
	// nil: each filter keeps its own.
	Histogram func(name string) *stats.Histogram
	// Logger is for what a filter decides that an operator must see (an
	// RBAC denial), rate limited by the filter; nil: none.
	Logger *slog.Logger
}

// counter returns the counter named name, from e.Counter if set.
func (e Env) counter(name string) *atomic.Uint64 {
	if e.Counter == nil {
		return new(atomic.Uint64)
	}
	return e.Counter(name)
}

// NewCounter returns the counter named name, from e.Counter if set, else
// a new one of the caller's own.
func (e Env) NewCounter(name string) *atomic.Uint64 { return e.counter(name) }

// NewHistogram returns the histogram named name, from e.Histogram if set,
// else a new one of the caller's own.
func (e Env) NewHistogram(name string) *stats.Histogram {
	if e.Histogram == nil {
		return new(stats.Histogram)
	}
	return e.Histogram(name)
}

// within returns e for the scope under e's named sub.
func (e Env) within(sub string) Env {
	e.Scope += "/" + sub
	return e
}

var registry = map[string]Builder{}

// Register makes b available under its type URL. It must be called only
// at init time (as grpc-go's balancer.Register); a second builder for the
// same type URL panics.
func Register(b Builder) {
	u := b.TypeURL()
	if _, dup := registry[u]; dup {
		panic(fmt.Sprintf("httpfilter: %q registered twice", u))
	}
	registry[u] = b
}

// Get returns the builder for typeURL, or nil.
func Get(typeURL string) Builder { return registry[typeURL] }

// TypeURLs returns the registered type URLs, sorted.
func TypeURLs() []string {
	out := make([]string, 0, len(registry))
	for u := range registry {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// build compiles f with the builder its type URL names.
func build(f *spec.HTTPFilter, env Env) (Filter, error) {
	b := Get(f.TypeURL)
	if b == nil {
		return nil, fmt.Errorf("unsupported HTTP filter %q", f.TypeURL)
	}
	return b.Build(f.Config, env)
}
