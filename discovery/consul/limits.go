package consul

import (
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// upstreamLimits returns the limits for upstream u of a proxy fronting
// service: u's own Config.limits (the registration), else the overrides
// for u in service's service-defaults UpstreamConfig, else its Defaults,
// as Consul merges them. nil when none is set.
func (b *builder) upstreamLimits(service string, u api.Upstream) *discovery.Limits {
	if m, ok := u.Config["limits"].(map[string]any); ok {
		var l discovery.Limits
		l.MaxConnections, _ = configInt(m, "max_connections")
		l.MaxPendingRequests, _ = configInt(m, "max_pending_requests")
		l.MaxConcurrentRequests, _ = configInt(m, "max_concurrent_requests")
		return &l
	}
	sd, ok := b.entry(api.ServiceDefaults, service).(*api.ServiceConfigEntry)
	if !ok || sd.UpstreamConfig == nil {
		return nil
	}
	for _, o := range sd.UpstreamConfig.Overrides {
		if o != nil && o.Name == u.DestinationName && o.Limits != nil {
			return limits(o.Limits)
		}
	}
	if d := sd.UpstreamConfig.Defaults; d != nil && d.Limits != nil {
		return limits(d.Limits)
	}
	return nil
}

func limits(l *api.UpstreamLimits) *discovery.Limits {
	deref := func(p *int) int {
		if p == nil || *p < 0 {
			return 0
		}
		return *p
	}
	return &discovery.Limits{MaxConnections: deref(l.MaxConnections),
		MaxPendingRequests: deref(l.MaxPendingRequests), MaxConcurrentRequests: deref(l.MaxConcurrentRequests)}
}
