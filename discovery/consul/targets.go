package consul

import (
	"slices"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-bexpr"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/internal/retryon"
)

// entry returns the config entry of kind for name, or nil.
func (b *builder) entry(kind, name string) api.ConfigEntry {
	if b.byName == nil {
		b.byName = make(map[string]api.ConfigEntry)
		for k, entries := range b.entries {
			for _, e := range entries {
				b.byName[k+"/"+e.GetName()] = e
			}
		}
	}
	return b.byName[kind+"/"+name]
}

// requestTimeout is the RequestTimeout of service's resolver, or zero.
func (b *builder) requestTimeout(service string) time.Duration {
	if res, ok := b.entry(api.ServiceResolver, service).(*api.ServiceResolverConfigEntry); ok {
		return res.RequestTimeout
	}
	return 0
}

// targetName is the catalog name of t: the service's catalog name, with
// SubsetSeparator and the subset appended for a subset.
func (b *builder) targetName(t target) string {
	name := b.catalogName(t.dc, t.service)
	if t.subset != "" {
		name += SubsetSeparator + t.subset
	}
	return name
}

// ensure returns the catalog name of t, adding a catalog service for it
// when there is none yet: its endpoints are the service's instances that
// pass the subset's filter (and, with OnlyPassing, are passing), and its
// connect timeout, failover and balancing come from the service's resolver.
func (b *builder) ensure(t target) string {
	name := b.targetName(t)
	if b.names[name] {
		return name
	}
	b.names[name] = true
	svc := discovery.Service{Name: name, Protocol: b.protocol(t.service), Datacenter: or(t.dc, b.local)}
	res, _ := b.entry(api.ServiceResolver, t.service).(*api.ServiceResolverConfigEntry)
	if t.subset != "" && res != nil {
		svc.Endpoints = b.subsetEndpoints(t, res.Subsets[t.subset])
	} else if t.subset == "" {
		svc.Endpoints = b.subsetEndpoints(t, api.ServiceResolverSubset{})
	}
	if res != nil {
		svc.ConnectTimeout = res.ConnectTimeout
		svc.Failover = b.failover(t, res)
		svc.Resilience = b.resilience(t.service)
		b.lbs[name] = svc.Resilience
	}
	b.derived = append(b.derived, svc)
	return name
}

// subsetEndpoints returns the endpoints of t's service that match sub. A
// filter that does not parse matches nothing, and is logged.
func (b *builder) subsetEndpoints(t target, sub api.ServiceResolverSubset) []discovery.Endpoint {
	dc := t.dc
	if dc == b.local {
		dc = ""
	}
	var eval *bexpr.Evaluator
	if sub.Filter != "" {
		var err error
		if eval, err = bexpr.CreateEvaluatorForType(sub.Filter, nil, (*api.ServiceEntry)(nil)); err != nil {
			b.logger.Warn("invalid service-resolver subset filter", "service", t.service, "subset", t.subset, "err", err)
			return nil
		}
	}
	var out []discovery.Endpoint
	for _, e := range b.health[key{dc: dc, name: t.service}] {
		if e.Service == nil || e.Service.Kind != api.ServiceKindTypical {
			continue
		}
		if sub.OnlyPassing && e.Checks.AggregatedStatus() != api.HealthPassing {
			continue
		}
		if eval != nil {
			if ok, err := eval.Evaluate(e); err != nil || !ok {
				continue
			}
		}
		if ep, ok := b.endpoint(e); ok {
			out = append(out, ep)
		}
	}
	return out
}

// retry maps a router destination's retry settings as Consul's xDS server
// does; nil when it has none. RetryOnStatusCodes adds the
// retriable-status-codes condition with those codes. Unknown conditions
// are skipped with a log.
func (b *builder) retry(d *api.ServiceRouteDestination) *discovery.Retry {
	if d.NumRetries == 0 && !d.RetryOnConnectFailure && len(d.RetryOn) == 0 && len(d.RetryOnStatusCodes) == 0 {
		return nil
	}
	r := &discovery.Retry{NumRetries: max(int(d.NumRetries), 1)}
	for _, c := range d.RetryOn {
		if retryon.Known(c) {
			r.On = append(r.On, c)
		} else {
			b.logger.Warn("skipping unsupported retry_on condition", "condition", c)
		}
	}
	if d.RetryOnConnectFailure {
		r.On = append(r.On, retryon.ConnectFailure)
	}
	if len(d.RetryOnStatusCodes) > 0 {
		if !slices.Contains(r.On, retryon.RetriableStatusCodes) {
			r.On = append(r.On, retryon.RetriableStatusCodes)
		}
		r.StatusCodes = slices.Clone(d.RetryOnStatusCodes)
	}
	return r
}

// mapMatch maps a service-router HTTP match.
func mapMatch(m *api.ServiceRouteHTTPMatch) discovery.RouteMatch {
	out := discovery.RouteMatch{PathExact: m.PathExact, PathPrefix: m.PathPrefix, PathRegex: m.PathRegex,
		CaseInsensitive: m.CaseInsensitive, Methods: m.Methods}
	for _, h := range m.Header {
		out.Headers = append(out.Headers, discovery.HeaderMatch{Name: h.Name, Present: h.Present, Exact: h.Exact,
			Prefix: h.Prefix, Suffix: h.Suffix, Regex: h.Regex, Invert: h.Invert})
	}
	for _, q := range m.QueryParam {
		out.Query = append(out.Query, discovery.QueryMatch{Name: q.Name, Present: q.Present, Exact: q.Exact, Regex: q.Regex})
	}
	return out
}
