package consul

import (
	"math"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// SubsetSeparator joins a service's catalog name and a resolver subset into
// the catalog name of the subset: "web~v2". Consul service names cannot
// contain it.
const SubsetSeparator = "~"

// maxRedirects bounds how many resolver redirects a target follows, so
// that a redirect loop in the config entries cannot hang a rebuild.
const maxRedirects = 8

// target is one resolved destination: a service's instances in a
// datacenter, optionally narrowed to a resolver subset.
type target struct{ service, subset, dc string }

// chain compiles Consul's discovery chain (service-router, then
// service-splitter, then service-resolver) for every service in svcs,
// setting their Routes, Failover, ConnectTimeout and balancing (the
// resolver's load_balancer), and returns the extra
// catalog services the targets need (subsets, other datacenters).
func (b *builder) chain(svcs []discovery.Service, names map[string]bool) []discovery.Service {
	b.names, b.derived, b.lbs = names, nil, map[string]*discovery.Resilience{}
	for i := range svcs {
		s := &svcs[i]
		if s.Sidecar != nil || s.Datacenter != "" && s.Datacenter != b.local {
			continue
		}
		s.Resilience = b.resilience(s.Name)
		b.lbs[s.Name] = s.Resilience
		b.compile(s)
	}
	routeHashes(svcs, b.lbs)
	return b.derived
}

// compile sets the routes of service s (a local Consul service).
func (b *builder) compile(s *discovery.Service) {
	if r, ok := b.entry(api.ServiceRouter, s.Name).(*api.ServiceRouterConfigEntry); ok && s.Protocol == discovery.ProtocolHTTP {
		for _, rt := range r.Routes {
			s.Routes = append(s.Routes, b.route(s.Name, rt))
		}
	}
	def := discovery.Route{Destinations: b.split(s.Name, "", s.Protocol)}
	def.Timeout = b.requestTimeout(s.Name)
	self := len(def.Destinations) == 1 && def.Destinations[0].Service == s.Name
	if len(s.Routes) > 0 || !self || def.Timeout > 0 {
		s.Routes = append(s.Routes, def)
	}
	if res, ok := b.entry(api.ServiceResolver, s.Name).(*api.ServiceResolverConfigEntry); ok {
		s.ConnectTimeout = res.ConnectTimeout
		s.Failover = b.failover(target{service: s.Name}, res)
	}
}

// route compiles one service-router route of service.
func (b *builder) route(service string, rt api.ServiceRoute) discovery.Route {
	var out discovery.Route
	if rt.Match != nil && rt.Match.HTTP != nil {
		out.Match = mapMatch(rt.Match.HTTP)
	}
	d := rt.Destination
	if d == nil {
		d = &api.ServiceRouteDestination{}
	}
	dst := d.Service
	if dst == "" {
		dst = service
	}
	out.Destinations = b.split(dst, d.ServiceSubset, discovery.ProtocolHTTP)
	out.PrefixRewrite, out.Timeout = d.PrefixRewrite, d.RequestTimeout
	if out.Timeout == 0 {
		out.Timeout = b.requestTimeout(dst)
	}
	out.Retry = b.retry(d)
	return out
}

// split resolves service (and subset) through its service-splitter, if it
// has one and no subset was asked for, into weighted destinations. Consul
// weights are percentages with two decimals; they become integer weights
// in hundredths of a percent.
func (b *builder) split(service, subset string, p discovery.Protocol) []discovery.Destination {
	sp, ok := b.entry(api.ServiceSplitter, service).(*api.ServiceSplitterConfigEntry)
	if !ok || subset != "" || p != discovery.ProtocolHTTP || len(sp.Splits) == 0 {
		return []discovery.Destination{{Service: b.resolve(target{service: service, subset: subset}), Weight: 10000}}
	}
	var out []discovery.Destination
	for _, s := range sp.Splits {
		svc := s.Service
		if svc == "" {
			svc = service
		}
		w := int(math.Round(float64(s.Weight) * 100))
		if w > 0 {
			out = append(out, discovery.Destination{Service: b.resolve(target{service: svc, subset: s.ServiceSubset}), Weight: w})
		}
	}
	return out
}

// resolve applies t's service-resolver (redirect, default subset) and
// returns the catalog name of the resulting target, creating its catalog
// service if needed.
func (b *builder) resolve(t target) string {
	for range maxRedirects {
		res, ok := b.entry(api.ServiceResolver, t.service).(*api.ServiceResolverConfigEntry)
		if !ok {
			break
		}
		if r := res.Redirect; r != nil && (r.Service != "" || r.Datacenter != "") {
			t = target{service: or(r.Service, t.service), subset: r.ServiceSubset, dc: or(r.Datacenter, t.dc)}
			continue
		}
		if t.subset == "" {
			t.subset = res.DefaultSubset
		}
		break
	}
	return b.ensure(t)
}

// failover returns the catalog names of the failover targets of t, from
// res.Failover[t.subset] or res.Failover["*"].
func (b *builder) failover(t target, res *api.ServiceResolverConfigEntry) []string {
	f, ok := res.Failover[t.subset]
	if !ok {
		if f, ok = res.Failover["*"]; !ok {
			return nil
		}
	}
	var targets []target
	switch {
	case len(f.Targets) > 0:
		for _, ft := range f.Targets {
			targets = append(targets, target{service: or(ft.Service, t.service), subset: ft.ServiceSubset, dc: ft.Datacenter})
		}
	case len(f.Datacenters) > 0:
		for _, dc := range f.Datacenters {
			targets = append(targets, target{service: or(f.Service, t.service), subset: f.ServiceSubset, dc: dc})
		}
	default:
		targets = append(targets, target{service: or(f.Service, t.service), subset: f.ServiceSubset})
	}
	var out []string
	for _, ft := range targets {
		if name := b.ensure(ft); name != b.targetName(t) {
			out = append(out, name)
		}
	}
	return out
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
