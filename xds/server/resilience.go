package server

import (
	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/discovery"
)

var lbPolicies = map[discovery.LBPolicy]cluster.Cluster_LbPolicy{
	discovery.LBRoundRobin:   cluster.Cluster_ROUND_ROBIN,
	discovery.LBLeastRequest: cluster.Cluster_LEAST_REQUEST,
	discovery.LBRandom:       cluster.Cluster_RANDOM,
	discovery.LBRingHash:     cluster.Cluster_RING_HASH,
	discovery.LBMaglev:       cluster.Cluster_MAGLEV,
}

// clusterResilience sets c's balancing policy, active health check and
// outlier detection from r (nil: none).
func clusterResilience(c *cluster.Cluster, r *discovery.Resilience) {
	if r == nil {
		return
	}
	if p, ok := lbPolicies[r.LBPolicy]; ok {
		c.LbPolicy = p
	}
	if r.ChoiceCount > 0 {
		c.LbConfig = &cluster.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: &cluster.Cluster_LeastRequestLbConfig{
			ChoiceCount: wrapperspb.UInt32(uint32(r.ChoiceCount))}}
	}
	if r.MinRingSize > 0 || r.MaxRingSize > 0 {
		rh := &cluster.Cluster_RingHashLbConfig{}
		if r.MinRingSize > 0 {
			rh.MinimumRingSize = wrapperspb.UInt64(uint64(r.MinRingSize))
		}
		if r.MaxRingSize > 0 {
			rh.MaximumRingSize = wrapperspb.UInt64(uint64(r.MaxRingSize))
		}
		c.LbConfig = &cluster.Cluster_RingHashLbConfig_{RingHashLbConfig: rh}
	}
	if hc := r.HealthCheck; hc != nil {
		c.HealthChecks = []*core.HealthCheck{healthCheck(hc)}
	}
	if o := r.Outlier; o != nil {
		c.OutlierDetection = outlierDetection(o)
	}
}

// hashPolicies translates hash policies.
func hashPolicies(hs []discovery.HashPolicy) []*route.RouteAction_HashPolicy {
	var out []*route.RouteAction_HashPolicy
	for _, h := range hs {
		out = append(out, hashPolicy(h))
	}
	return out
}

// healthCheck is an HTTP GET of hc.Path, or a TCP connect. Checks run at
// hc.Interval even before the cluster carries traffic (Envoy's
// no_traffic_interval would otherwise wait 60s).
func healthCheck(hc *discovery.HealthCheck) *core.HealthCheck {
	out := &core.HealthCheck{
		Timeout:            durationpb.New(hc.Timeout),
		Interval:           durationpb.New(hc.Interval),
		NoTrafficInterval:  durationpb.New(hc.Interval),
		HealthyThreshold:   wrapperspb.UInt32(uint32(hc.HealthyThreshold)),
		UnhealthyThreshold: wrapperspb.UInt32(uint32(hc.UnhealthyThreshold)),
	}
	if hc.Path != "" {
		out.HealthChecker = &core.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &core.HealthCheck_HttpHealthCheck{Path: hc.Path}}
	} else {
		out.HealthChecker = &core.HealthCheck_TcpHealthCheck_{TcpHealthCheck: &core.HealthCheck_TcpHealthCheck{}}
	}
	return out
}

// outlierDetection is consecutive-5xx detection with o's values, Envoy's
// defaults for the zero ones.
func outlierDetection(o *discovery.Outlier) *cluster.OutlierDetection {
	out := &cluster.OutlierDetection{}
	if o.Consecutive5xx > 0 {
		out.Consecutive_5Xx = wrapperspb.UInt32(uint32(o.Consecutive5xx))
	}
	if o.Interval > 0 {
		out.Interval = durationpb.New(o.Interval)
	}
	if o.BaseEjectionTime > 0 {
		out.BaseEjectionTime = durationpb.New(o.BaseEjectionTime)
	}
	if o.MaxEjectionPercent > 0 {
		out.MaxEjectionPercent = wrapperspb.UInt32(uint32(o.MaxEjectionPercent))
	}
	if o.Enforcing5xx != nil {
		out.EnforcingConsecutive_5Xx = wrapperspb.UInt32(uint32(*o.Enforcing5xx))
	}
	return out
}

// routeResilience sets the timeout, retry policy and hash policies of a
// to svc's own cluster from r (nil: none).
func routeResilience(a *route.RouteAction, r *discovery.Resilience) {
	if r == nil {
		return
	}
	if r.Timeout > 0 {
		a.Timeout = durationpb.New(r.Timeout)
	}
	if r.Retry != nil {
		a.RetryPolicy = retryPolicy(r.Retry)
	}
	a.HashPolicy = append(a.HashPolicy, hashPolicies(r.HashPolicies)...)
}

func hashPolicy(h discovery.HashPolicy) *route.RouteAction_HashPolicy {
	out := &route.RouteAction_HashPolicy{Terminal: h.Terminal}
	switch {
	case h.Header != "":
		out.PolicySpecifier = &route.RouteAction_HashPolicy_Header_{Header: &route.RouteAction_HashPolicy_Header{HeaderName: h.Header}}
	case h.Query != "":
		out.PolicySpecifier = &route.RouteAction_HashPolicy_QueryParameter_{QueryParameter: &route.RouteAction_HashPolicy_QueryParameter{Name: h.Query}}
	case h.Cookie != "":
		out.PolicySpecifier = &route.RouteAction_HashPolicy_Cookie_{Cookie: hashCookie(h)}
	default:
		out.PolicySpecifier = &route.RouteAction_HashPolicy_ConnectionProperties_{ConnectionProperties: &route.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}
	}
	return out
}

// hashCookie is a cookie hash policy as Consul's injectLBToRouteAction
// writes it: a session cookie has ttl 0, a TTL sets ttl.
func hashCookie(h discovery.HashPolicy) *route.RouteAction_HashPolicy_Cookie {
	c := &route.RouteAction_HashPolicy_Cookie{Name: h.Cookie, Path: h.CookiePath}
	if h.CookieTTL != 0 {
		c.Ttl = durationpb.New(h.CookieTTL)
	}
	if h.CookieSession {
		c.Ttl = durationpb.New(0)
	}
	return c
}
