package httpfilter

import (
	"fmt"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// Chain is the compiled HTTP filter chain of one HTTP connection manager
// in one snapshot: its filters in order, and for routes with
// typed_per_filter_config, their own lists with those filters replaced.
// A Chain is immutable and safe for concurrent use; a nil *Chain has no
// filters.
type Chain struct {
	base   *list
	routes []*list // by route.Route.Index; nil: base
}

// list is the filters one request runs, with their optional hooks found
// once: resp is aligned with req (nil where a filter has no response
// hook).
type list struct {
	names    []string // aligned with req, for [Chain.Explain]
	req      []Filter
	resp     []ResponseHeadersFilter
	hasResp  bool
	reqBody  []RequestBodyFilter
	respBody []ResponseBodyFilter
	trailers []ResponseTrailersFilter
	local    []LocalReplyFilter
}

func (l *list) add(name string, f Filter) {
	l.names = append(l.names, name)
	l.req = append(l.req, f)
	rf, _ := f.(ResponseHeadersFilter)
	l.resp = append(l.resp, rf)
	l.hasResp = l.hasResp || rf != nil
	if bf, ok := f.(RequestBodyFilter); ok {
		l.reqBody = append(l.reqBody, bf)
	}
	if bf, ok := f.(ResponseBodyFilter); ok {
		l.respBody = append(l.respBody, bf)
	}
	if tf, ok := f.(ResponseTrailersFilter); ok {
		l.trailers = append(l.trailers, tf)
	}
	if lf, ok := f.(LocalReplyFilter); ok {
		l.local = append(l.local, lf)
	}
}

// Compile builds the chain of filters (the router excluded) for the routes
// of rc, whose route indexes follow route.Compile's. env.Scope names the
// listener (or its filter chain), for state keys; env.State carries token
// buckets over from the previous snapshot. A typed_per_filter_config entry naming no filter of
// the chain is ignored, as in Envoy; one whose type differs from its
// filter's is an error.
func Compile(filters []spec.HTTPFilter, rc *spec.RouteConfig, env Env) (*Chain, error) {
	c := &Chain{base: &list{}}
	base := make([]Filter, len(filters))
	for i := range filters {
		f := &filters[i]
		built, err := build(f, env.within(f.Name))
		if err != nil {
			return nil, fmt.Errorf("http_filters[%d] %q: %w", i, f.Name, err)
		}
		if base[i] = built; built != nil {
			c.base.add(f.Name, built)
		}
	}
	if rc == nil {
		return c, nil
	}
	if err := c.compileRoutes(filters, base, rc, env); err != nil {
		return nil, fmt.Errorf("route config %q: %w", rc.Name, err)
	}
	return c, nil
}

// compileRoutes builds a list for each route with overrides. Overrides
// shared by routes (a virtual host's) are built once, so they share state.
func (c *Chain) compileRoutes(filters []spec.HTTPFilter, base []Filter, rc *spec.RouteConfig, env Env) error {
	rb := routeBuilder{filters: filters, base: base, shared: map[*spec.HTTPFilter]Filter{}}
	n := 0
	for i := range rc.VirtualHosts {
		vh := &rc.VirtualHosts[i]
		for j := range vh.Routes {
			r := &vh.Routes[j]
			if len(r.PerFilter) > 0 {
				l, err := rb.list(r, env.within(fmt.Sprintf("route/%s/%d", vh.Name, j)))
				if err != nil {
					return fmt.Errorf("virtual_hosts[%d].routes[%d].typed_per_filter_config: %w", i, j, err)
				}
				c.setRoute(n, l)
			}
			n++
		}
	}
	return nil
}

func (c *Chain) setRoute(index int, l *list) {
	for len(c.routes) <= index {
		c.routes = append(c.routes, nil)
	}
	c.routes[index] = l
}

// routeBuilder builds the filter lists of routes with overrides.
type routeBuilder struct {
	filters []spec.HTTPFilter
	base    []Filter                    // built from filters; nil where disabled
	shared  map[*spec.HTTPFilter]Filter // overrides built so far
}

// list returns the filters of route r: the chain's, each replaced by its
// override when r has one. env names the route, for state keys.
func (b *routeBuilder) list(r *spec.Route, env Env) (*list, error) {
	l := &list{}
	for i := range b.filters {
		f := &b.filters[i]
		built := b.base[i]
		if o := r.PerFilter[f.Name]; o != nil {
			if o.TypeURL != f.TypeURL {
				return nil, fmt.Errorf("%q: type %q does not match the filter's %q", f.Name, o.TypeURL, f.TypeURL)
			}
			var err error
			if built, err = b.override(o, env.within(f.Name)); err != nil {
				return nil, fmt.Errorf("%q: %w", f.Name, err)
			}
		}
		if built != nil {
			l.add(f.Name, built)
		}
	}
	return l, nil
}

func (b *routeBuilder) override(o *spec.HTTPFilter, env Env) (Filter, error) {
	if f, ok := b.shared[o]; ok {
		return f, nil
	}
	f, err := build(o, env)
	if err != nil {
		return nil, err
	}
	b.shared[o] = f
	return f, nil
}
