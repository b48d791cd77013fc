// Package balancer holds the load-balancing policies. Each policy is a
// [Builder] registered by name in init; the data plane builds one
// [cluster.Picker] per cluster per snapshot, off the request path, and
// installs it in the cluster's [cluster.Runtime] when the snapshot is
// published. A picker that also implements [cluster.Observer] receives the
// outcome of every attempt on the endpoints it picked.
package balancer

import (
	"slices"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// Builder builds pickers for one policy.
type Builder interface {
	// Name is the policy's name as it appears in config.LBPolicy.
	Name() string
	// Build returns a picker over endpoints, all of which are usable and of
	// one priority, configured by the cluster's spec cfg (the policy's
	// fields are read from it; cfg must not be modified or kept past Build
	// unless copied). endpoints is never empty and must not be modified.
	Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker
}

var registry = map[string]Builder{}

// Register adds b to the registry. It must be called only from init
// functions; a second builder with the same name replaces the first.
func Register(b Builder) { registry[b.Name()] = b }

// Get returns the builder registered under name, or nil.
func Get(name string) Builder { return registry[name] }

// Names returns the registered policy names, sorted.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Build returns a picker for the usable endpoints of the lowest priority
// that has any (Envoy's priority levels, without overprovisioning), using
// the policy cfg names (round robin when none). It returns a picker that
// always returns nil when no endpoint is usable. It panics if the policy
// is not registered, which the config layer rules out.
func Build(cfg *spec.Cluster, endpoints []*cluster.Endpoint) cluster.Picker {
	policy := Policy(cfg)
	b := Get(policy)
	if b == nil {
		panic("balancer: unregistered policy " + policy)
	}
	best := usableAtBestPriority(endpoints)
	if len(best) == 0 {
		return none{}
	}
	return b.Build(cfg, best)
}

// Policy returns the name of cfg's policy: its LBPolicy, or RoundRobin
// (Envoy's default).
func Policy(cfg *spec.Cluster) string {
	if cfg.LBPolicy == "" {
		return RoundRobin
	}
	return string(cfg.LBPolicy)
}

func usableAtBestPriority(endpoints []*cluster.Endpoint) []*cluster.Endpoint {
	var best []*cluster.Endpoint
	for _, e := range endpoints {
		if !e.Usable() {
			continue
		}
		if len(best) > 0 && e.Priority > best[0].Priority {
			continue
		}
		if len(best) > 0 && e.Priority < best[0].Priority {
			best = best[:0]
		}
		best = append(best, e)
	}
	return best
}

type none struct{}

func (none) Pick(uint64) *cluster.Endpoint { return nil }

var _ cluster.Picker = none{}

func equalWeights(endpoints []*cluster.Endpoint) bool {
	for _, e := range endpoints[1:] {
		if e.Weight != endpoints[0].Weight {
			return false
		}
	}
	return true
}
