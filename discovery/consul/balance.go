package consul

import (
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// Consul's service-resolver hash policy fields.
const (
	hashHeader = "header"
	hashCookie = "cookie"
	hashQuery  = "query_parameter"
)

// resilience returns how callers balance service, from its
// service-resolver's LoadBalancer as Consul's xDS server maps it
// (injectLBToCluster, injectLBToRouteAction); nil when there is none.
func (b *builder) resilience(service string) *discovery.Resilience {
	res, ok := b.entry(api.ServiceResolver, service).(*api.ServiceResolverConfigEntry)
	if !ok || res.LoadBalancer == nil || res.LoadBalancer.Policy == "" {
		return nil
	}
	return b.loadBalancer(service, res.LoadBalancer)
}

// loadBalancer maps a resolver's LoadBalancer: the policy, least_request's
// choice count, ring_hash's ring sizes, and the hash policies of the
// hashing policies (Consul ignores them, and its validation rejects them,
// for the others). What an Envoy would reject (a choice count below 2, a
// minimum ring above the maximum, an unknown policy or field) is left out
// with a log; a ring size or choice count of 0 means Envoy's default.
func (b *builder) loadBalancer(service string, lb *api.LoadBalancer) *discovery.Resilience {
	p := discovery.LBPolicy(lb.Policy)
	switch p {
	case discovery.LBRoundRobin, discovery.LBLeastRequest, discovery.LBRandom, discovery.LBRingHash, discovery.LBMaglev:
	default:
		b.logger.Warn("skipping unsupported service-resolver load balancer policy", "service", service, "policy", lb.Policy)
		return nil
	}
	r := &discovery.Resilience{LBPolicy: p}
	if c := lb.LeastRequestConfig; c != nil && p == discovery.LBLeastRequest && c.ChoiceCount >= 2 {
		r.ChoiceCount = int(c.ChoiceCount)
	}
	if c := lb.RingHashConfig; c != nil && p == discovery.LBRingHash {
		if c.MaximumRingSize != 0 && c.MinimumRingSize > c.MaximumRingSize {
			b.logger.Warn("skipping service-resolver ring sizes: minimum above maximum", "service", service)
		} else {
			r.MinRingSize, r.MaxRingSize = int(c.MinimumRingSize), int(c.MaximumRingSize)
		}
	}
	if p == discovery.LBRingHash || p == discovery.LBMaglev {
		r.HashPolicies = b.hashPolicies(service, lb.HashPolicies)
	}
	return r
}

// hashPolicies maps a resolver's hash policies: source_ip, or a header,
// cookie (with its ttl, session and path) or query parameter named by
// FieldValue.
func (b *builder) hashPolicies(service string, hs []api.HashPolicy) []discovery.HashPolicy {
	var out []discovery.HashPolicy
	for _, h := range hs {
		p := discovery.HashPolicy{Terminal: h.Terminal}
		switch {
		case h.SourceIP:
			p.SourceIP = true
		case h.FieldValue == "":
			b.logger.Warn("skipping service-resolver hash policy without field_value", "service", service, "field", h.Field)
			continue
		case h.Field == hashHeader:
			p.Header = h.FieldValue
		case h.Field == hashQuery:
			p.Query = h.FieldValue
		case h.Field == hashCookie:
			p.Cookie = h.FieldValue
			if c := h.CookieConfig; c != nil {
				p.CookieTTL, p.CookieSession, p.CookiePath = c.TTL, c.Session, c.Path
			}
		default:
			b.logger.Warn("skipping unsupported service-resolver hash policy field", "service", service, "field", h.Field)
			continue
		}
		out = append(out, p)
	}
	return out
}

// routeHashes sets the hash policies of the routes of svcs whose
// destinations balance by hash, as Consul's discovery chain does: a route
// to one target takes its resolver's, a split the first hash-based one
// among its legs (lbs maps catalog names to their balancing).
func routeHashes(svcs []discovery.Service, lbs map[string]*discovery.Resilience) {
	for i := range svcs {
		for j := range svcs[i].Routes {
			rt := &svcs[i].Routes[j]
			for _, d := range rt.Destinations {
				if r := lbs[d.Service]; r != nil && (r.LBPolicy == discovery.LBRingHash || r.LBPolicy == discovery.LBMaglev) {
					rt.HashPolicies = r.HashPolicies
					break
				}
			}
		}
	}
}

// passiveHealthCheck returns the outlier detection of upstream u of a
// proxy fronting service: u's Config passive_health_check (the
// registration), else the one for u in service's service-defaults
// UpstreamConfig overrides, else its defaults, mapped as Consul's
// ToOutlierDetection. Consul gives every upstream cluster outlier
// detection, Envoy's defaults where nothing is set, and so does this.
func (b *builder) passiveHealthCheck(service string, u api.Upstream) *discovery.Outlier {
	for k, v := range u.Config {
		if m, ok := v.(map[string]any); ok && configKey(k) == "passivehealthcheck" {
			return outlierFromConfig(m)
		}
	}
	if sd, ok := b.entry(api.ServiceDefaults, service).(*api.ServiceConfigEntry); ok && sd.UpstreamConfig != nil {
		for _, o := range sd.UpstreamConfig.Overrides {
			if o != nil && o.Name == u.DestinationName && o.PassiveHealthCheck != nil {
				return outlier(o.PassiveHealthCheck)
			}
		}
		if d := sd.UpstreamConfig.Defaults; d != nil && d.PassiveHealthCheck != nil {
			return outlier(d.PassiveHealthCheck)
		}
	}
	return &discovery.Outlier{}
}

// outlier maps a PassiveHealthCheck as Consul's ToOutlierDetection for
// upstreams (allowZero): Interval and MaxFailures (consecutive_5xx) when
// not zero, EnforcingConsecutive5xx and MaxEjectionPercent when set,
// BaseEjectionTime when set and positive. MaxEjectionPercent 0, which
// Consul sends as 0, is Envoy's default 10% here.
func outlier(p *api.PassiveHealthCheck) *discovery.Outlier {
	o := &discovery.Outlier{Interval: p.Interval, Consecutive5xx: int(p.MaxFailures)}
	if p.EnforcingConsecutive5xx != nil {
		e := int(min(*p.EnforcingConsecutive5xx, 100))
		o.Enforcing5xx = &e
	}
	if p.MaxEjectionPercent != nil {
		o.MaxEjectionPercent = int(min(*p.MaxEjectionPercent, 100))
	}
	if p.BaseEjectionTime != nil && *p.BaseEjectionTime > 0 {
		o.BaseEjectionTime = *p.BaseEjectionTime
	}
	return o
}

// outlierFromConfig reads a passive_health_check from an upstream's opaque
// Config, with the key names and value forms Consul's mapstructure decode
// accepts (snake_case or CamelCase; durations as "10s" or nanoseconds).
// Values it cannot read are left unset.
func outlierFromConfig(m map[string]any) *discovery.Outlier {
	var p api.PassiveHealthCheck
	u32 := func(v any) *uint32 {
		if n, err := configInt(map[string]any{"v": v}, "v"); err == nil {
			x := uint32(min(n, 1<<31))
			return &x
		}
		return nil
	}
	for k, v := range m {
		switch configKey(k) {
		case "interval":
			p.Interval = configDuration(v)
		case "maxfailures":
			if n := u32(v); n != nil {
				p.MaxFailures = *n
			}
		case "enforcingconsecutive5xx":
			p.EnforcingConsecutive5xx = u32(v)
		case "maxejectionpercent":
			p.MaxEjectionPercent = u32(v)
		case "baseejectiontime":
			d := configDuration(v)
			p.BaseEjectionTime = &d
		}
	}
	return outlier(&p)
}

// configKey normalizes a Config key: lower case, no underscores.
func configKey(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "")) }

// configDuration reads a duration given as text ("10s") or as a number of
// nanoseconds; 0 when it is neither.
func configDuration(v any) time.Duration {
	switch v := v.(type) {
	case string:
		d, _ := time.ParseDuration(v)
		return d
	case float64:
		return time.Duration(v)
	}
	return 0
}
