package consul

import (
	"github.com/hashicorp/consul/api"
)

// wanted returns the services to watch. With [Options.WatchAll], every
// service in the catalog; otherwise only what the mesh needs, as Consul's
// own proxy configuration does: every connect-proxy service, the services
// they front, their upstreams, and every service that the discovery chains
// of those reach (router destinations, splitter legs, resolver redirects and
// failovers), in the datacenter each names. This fetches the services the
// mesh uses rather than every service in the datacenter.
func (l *loop) wanted() map[key]bool {
	w := wantSet{local: localDatacenter(l.health), want: make(map[key]bool)}
	if l.src.opts.WatchAll {
		for name := range l.services[""].services {
			w.add("", name)
		}
	}
	for name := range l.proxies.services {
		w.add("", name)
	}
	l.walk(&w)
	return w.want
}

// grow adds to l.want what keys, already wanted, lead to (see wanted), and
// returns the keys it added. It costs what it adds, where wanted costs
// every wanted service: it is how the health of a connect-proxy fetched
// for the first time extends the set.
func (l *loop) grow(keys []key) []key {
	w := wantSet{local: localDatacenter(l.health), want: l.want, queue: keys}
	l.walk(&w)
	return w.added
}

// walk adds to w what the services in its queue lead to, until none is
// left: a proxy's destination and upstreams, a discovery chain's targets.
func (l *loop) walk(w *wantSet) {
	for len(w.queue) > 0 {
		k := w.queue[0]
		w.queue = w.queue[1:]
		for _, e := range l.health[k] {
			if !isProxy(e.Service) || k.dc != "" {
				continue
			}
			w.add("", e.Service.Proxy.DestinationServiceName)
			for _, u := range e.Service.Proxy.Upstreams {
				w.add(u.Datacenter, u.DestinationName)
			}
		}
		chainRefs(l.entries, k, w.add)
	}
}

// wantSet collects the services to watch, breadth first.
type wantSet struct {
	local string // the agent's datacenter, "" if not known yet
	want  map[key]bool
	queue []key
	added []key
}

// add wants service name in datacenter dc ("" or the local one: local).
func (w *wantSet) add(dc, name string) {
	if dc == w.local {
		dc = ""
	}
	k := key{dc: dc, name: name}
	if name == "" || w.want[k] {
		return
	}
	w.want[k] = true
	w.queue = append(w.queue, k)
	w.added = append(w.added, k)
}

// chainRefs calls add for every service the discovery chain entries of
// k's service route, split, redirect or fail over to; a reference without
// a datacenter stays in k's.
func chainRefs(entries map[string][]api.ConfigEntry, k key, add func(dc, name string)) {
	for _, e := range entries[api.ServiceRouter] {
		if r, ok := e.(*api.ServiceRouterConfigEntry); ok && r.Name == k.name {
			for _, rt := range r.Routes {
				if rt.Destination != nil {
					add(k.dc, or(rt.Destination.Service, k.name))
				}
			}
		}
	}
	for _, e := range entries[api.ServiceSplitter] {
		if s, ok := e.(*api.ServiceSplitterConfigEntry); ok && s.Name == k.name {
			for _, sp := range s.Splits {
				add(k.dc, or(sp.Service, k.name))
			}
		}
	}
	for _, e := range entries[api.ServiceResolver] {
		if r, ok := e.(*api.ServiceResolverConfigEntry); ok && r.Name == k.name {
			resolverRefs(r, k, add)
		}
	}
}

// resolverRefs calls add for a resolver's redirect and failover targets.
func resolverRefs(r *api.ServiceResolverConfigEntry, k key, add func(dc, name string)) {
	if rd := r.Redirect; rd != nil {
		add(or(rd.Datacenter, k.dc), or(rd.Service, k.name))
	}
	for _, f := range r.Failover {
		for _, t := range f.Targets {
			add(or(t.Datacenter, k.dc), or(t.Service, k.name))
		}
		for _, dc := range f.Datacenters {
			add(dc, or(f.Service, k.name))
		}
		if len(f.Targets) == 0 && len(f.Datacenters) == 0 {
			add(k.dc, or(f.Service, k.name))
		}
	}
}
