package explain

import (
	"fmt"
	"strings"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// hashOf renders a request's hash.
func hashOf(key uint64, policies []route.HashStep) *Hash {
	h := &Hash{Key: fmt.Sprintf("%#016x", key), value: key, Policies: policies, Why: "xxHash64 of each value found, combined as Envoy's hash policies"}
	switch {
	case len(policies) == 0 && key == 0:
		h.Key, h.Why = "none", "the route has no hash_policy: a hashing balancer takes a random point per request"
	case key == 0:
		h.Key, h.Why = "none", "no hash policy found a value: a hashing balancer takes a random point per request"
	}
	return h
}

// tcpHash is the hash of a TCP connection: none.
var tcpHash = &Hash{Key: "none", Why: "tcp_proxy has no hash policy: a hashing balancer takes a random point per connection"}

// explainCluster explains the cluster name (c; nil when it does not
// exist) for a request with hash h: circuit breakers, the balancer's
// plan, each endpoint and the pick.
func explainCluster(snap *sidecar.Snapshot, name string, c *cluster.Cluster, h *Hash) *ClusterStep {
	step := &ClusterStep{Name: name, Found: c != nil}
	cs, factor := snap.ClusterSpec(name)
	if c == nil || cs == nil {
		step.Pick.Why = "no cluster of this name: 503 (response flag NC)"
		return step
	}
	step.Breakers = breakers(c)
	plan := balancer.ExplainZoned(cs, factor, c.Endpoints, c.Zone)
	step.Plan = &plan
	bucketOf := map[*cluster.Endpoint]string{}
	for _, b := range plan.Buckets {
		for _, e := range b.Endpoints {
			bucketOf[e] = fmt.Sprintf("priority %d %s (%d%% of picks)", b.Priority, b.Kind, b.Share)
		}
	}
	for _, e := range c.Endpoints {
		step.Endpoints = append(step.Endpoints, EndpointStep{Address: e.Addr, Weight: e.Weight, Priority: e.Priority,
			Locality: e.Locality, Health: health(e), Inflight: e.Inflight.Load(), Bucket: bucketOf[e]})
	}
	if plan.Hashing {
		step.Hash = h
	}
	step.Pick = pick(c, &plan, h, bucketOf)
	return step
}

// breakers returns the state of c's circuit breakers (default priority).
func breakers(c *cluster.Cluster) []Breaker {
	l, st := c.Limits, c.Stats
	b := func(name string, active, limit int64) Breaker {
		return Breaker{Name: name, Active: active, Max: limit, Open: limit != 0 && active >= limit}
	}
	return []Breaker{
		b("max_connections", st.Cx.Active(), l.MaxConnections),
		b("max_pending_requests", st.RqPending.Load(), l.MaxPending),
		b("max_requests", st.RqActive.Load(), l.MaxRequests),
		b("max_retries", st.RetryActive.Load(), l.MaxRetries),
	}
}

// pick says which endpoint a pick would take now, without making one.
func pick(c *cluster.Cluster, plan *balancer.Plan, h *Hash, bucketOf map[*cluster.Endpoint]string) Pick {
	switch {
	case c.Overloaded():
		return Pick{Why: "the max_requests circuit breaker is open: 503 without a pick (response flag UO)"}
	case len(plan.Buckets) == 0:
		return Pick{Why: "no endpoint may be picked: 503 no healthy upstream (response flag UH)"}
	}
	p := c.Picker
	if c.Runtime != nil && c.Runtime.Picker() != nil {
		p = c.Runtime.Picker()
	}
	if plan.Hashing {
		if ep, ok := balancer.Peek(p, h.value); ok {
			if ep == nil {
				return Pick{Why: "no endpoint may be picked: 503 no healthy upstream (response flag UH)"}
			}
			return Pick{Endpoint: ep.Addr, Why: fmt.Sprintf("%s: hash %s lands on it, in bucket %s", plan.Policy, h.Key, bucketOf[ep])}
		}
	}
	var out Pick
	for _, b := range plan.Buckets {
		for _, e := range b.Endpoints {
			out.Candidates = append(out.Candidates, e.Addr)
		}
	}
	if len(out.Candidates) == 1 {
		return Pick{Endpoint: out.Candidates[0], Why: "the only endpoint picks can reach"}
	}
	out.Why = policyWhy(plan) + "; explain takes no turn and draws nothing, so it names the candidates"
	return out
}

// policyWhy says how the plan's policy chooses among its candidates.
func policyWhy(plan *balancer.Plan) string {
	var s string
	switch plan.Policy {
	case balancer.RoundRobin:
		s = "round_robin takes the candidates in turn (smooth weighted schedule)"
	case balancer.LeastRequest:
		s = "least_request takes, of two candidates drawn by weight, the one with fewer requests in flight"
	case balancer.Random:
		s = "random draws a candidate by weight"
	case balancer.PeakEWMA:
		s = "peak_ewma takes, of two random candidates, the one with the lower latency estimate times load"
	case balancer.RingHash, balancer.Maglev:
		s = plan.Policy + " without a hash takes a random point"
	default:
		s = plan.Policy + " chooses among the candidates"
	}
	if len(plan.Buckets) > 1 {
		s = "a bucket is chosen by its share, then " + s
	}
	if plan.LocalityWeighted {
		s += ", after choosing a locality by weight"
	}
	if z := plan.Zone; z != nil && z.State != "off" {
		s += fmt.Sprintf(", after choosing a locality zone aware (%s: %s", z.Locality, z.State)
		for _, l := range z.Localities {
			s += fmt.Sprintf(", %s %.4g%%", l.Name, l.Share)
		}
		s += " of healthy priority-0 picks)"
	}
	return s
}

// health renders what the balancer knows of e's health.
func health(e *cluster.Endpoint) string {
	parts := []string{edsHealth[e.Health] + " (EDS)"}
	if e.Active != nil {
		if e.Active.Failed() {
			parts = append(parts, "failing its active health check")
		} else {
			parts = append(parts, "passing its active health check")
		}
	}
	if e.Outlier != nil && e.Outlier.Ejected() {
		parts = append(parts, "ejected by outlier detection")
	}
	switch cluster.AdminState(e.State.Admin.Load()) {
	case cluster.AdminDrain:
		parts = append(parts, "drained by the operator")
	case cluster.AdminDisabled:
		parts = append(parts, "disabled by the operator")
	}
	switch e.Availability() {
	case cluster.Available:
		parts = append(parts, "available")
	case cluster.DegradedOnly:
		parts = append(parts, "degraded: used when healthy endpoints are not enough")
	default:
		parts = append(parts, "unavailable: only panic mode sends it traffic")
	}
	return strings.Join(parts, ", ")
}

var edsHealth = map[spec.HealthStatus]string{spec.Healthy: "healthy", spec.Unhealthy: "unhealthy", spec.Draining: "draining", spec.Degraded: "degraded"}
