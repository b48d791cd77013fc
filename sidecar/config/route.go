package config

import (
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

var (
	// validate_clusters is checked by whoever knows the clusters (the xDS
	// client, see [ValidateListenerClusters]).
	routeConfigFields = allow(&routev3.RouteConfiguration{},
		append([]string{"name", "virtual_hosts", "validate_clusters"}, headerListFields...)...)
	virtualHostFields = allow(&routev3.VirtualHost{},
		append([]string{"name", "domains", "routes", "metadata", "typed_per_filter_config"}, headerListFields...)...)
	routeFields = allow(&routev3.Route{},
		append([]string{"name", "match", "route", "redirect", "direct_response", "metadata", "typed_per_filter_config"},
			headerListFields...)...)
)

// DecodeRouteConfig validates rc and decodes it into a [RouteConfig]. An
// error names the route configuration and the field, as in
//
//	route_config "local": virtual_hosts[0].routes[2].route.hash_policy[0].cookie: not supported
//
// DecodeRouteConfig is safe for concurrent use and does not retain rc.
func DecodeRouteConfig(rc *routev3.RouteConfiguration) (*RouteConfig, error) {
	if err := validate(rc); err != nil {
		return nil, &resourceError{kind: "route_config", name: rc.GetName(), err: err}
	}
	out, err := decodeRouteConfig(rc)
	if err != nil {
		return nil, &resourceError{kind: "route_config", name: rc.GetName(), err: err}
	}
	return out, nil
}

// decodeRouteConfig decodes a validated route configuration, standalone
// or inline in a listener. Domains are lower-cased and must be unique
// across its virtual hosts, as in Envoy.
func decodeRouteConfig(rc *routev3.RouteConfiguration) (*RouteConfig, error) {
	if err := routeConfigFields.check(rc); err != nil {
		return nil, err
	}
	out := &RouteConfig{Name: rc.GetName()}
	var err error
	if out.Headers, err = decodeMutations(rc); err != nil {
		return nil, err
	}
	if v := rc.GetValidateClusters(); v != nil {
		b := v.GetValue()
		out.ValidateClusters = &b
	}
	seen := make(map[string]int)
	for i, vh := range rc.GetVirtualHosts() {
		v, err := decodeVirtualHost(vh, seen, i)
		if err != nil {
			return nil, within(index("virtual_hosts", i), err)
		}
		out.VirtualHosts = append(out.VirtualHosts, v)
	}
	return out, nil
}

// decodeVirtualHost decodes the i-th virtual host, recording its domains
// in seen (domain to virtual host index).
func decodeVirtualHost(vh *routev3.VirtualHost, seen map[string]int, i int) (VirtualHost, error) {
	if err := virtualHostFields.check(vh); err != nil {
		return VirtualHost{}, err
	}
	out := VirtualHost{Name: vh.GetName()}
	perFilter, err := decodePerFilter(vh.GetTypedPerFilterConfig())
	if err != nil {
		return VirtualHost{}, err
	}
	if out.Headers, err = decodeMutations(vh); err != nil {
		return VirtualHost{}, err
	}
	for j, d := range vh.GetDomains() {
		d = strings.ToLower(d)
		if err := checkDomain(d, seen, i); err != nil {
			return VirtualHost{}, within(index("domains", j), err)
		}
		out.Domains = append(out.Domains, d)
	}
	for j, r := range vh.GetRoutes() {
		route, err := decodeRoute(r)
		if err != nil {
			return VirtualHost{}, within(index("routes", j), err)
		}
		route.PerFilter = mergePerFilter(route.PerFilter, perFilter)
		out.Routes = append(out.Routes, route)
	}
	return out, nil
}

// checkDomain applies Envoy's domain rules: a "*" only as the whole
// domain, its first or its last character, and no domain twice.
func checkDomain(d string, seen map[string]int, vhost int) error {
	if n := strings.Count(d, "*"); n > 1 || n == 1 && len(d) > 1 && d[0] != '*' && d[len(d)-1] != '*' {
		return errorf("", "%q: a wildcard must be the first or last character", d)
	}
	if prev, ok := seen[d]; ok {
		return errorf("", "domain %q is already in virtual_hosts[%d]", d, prev)
	}
	seen[d] = vhost
	return nil
}

// decodeRoute decodes one route: its match and exactly one action.
func decodeRoute(r *routev3.Route) (Route, error) {
	if err := routeFields.check(r); err != nil {
		return Route{}, err
	}
	m, err := decodeMatch(r.GetMatch())
	if err != nil {
		return Route{}, within("match", err)
	}
	out := Route{Name: r.GetName(), Match: m}
	if out.PerFilter, err = decodePerFilter(r.GetTypedPerFilterConfig()); err != nil {
		return Route{}, err
	}
	if out.Headers, err = decodeMutations(r); err != nil {
		return Route{}, err
	}
	switch a := r.GetAction().(type) {
	case *routev3.Route_Route:
		out.Action, err = decodeAction(a.Route)
		err = wrapIf("route", err)
	case *routev3.Route_Redirect:
		out.Redirect, err = decodeRedirect(a.Redirect)
		err = wrapIf("redirect", err)
	case *routev3.Route_DirectResponse:
		out.Direct, err = decodeDirect(a.DirectResponse)
		err = wrapIf("direct_response", err)
	default:
		err = errorf("action", "one of route, redirect or direct_response is required")
	}
	if err != nil {
		return Route{}, err
	}
	return out, nil
}

// wrapIf is within for an err that may be nil.
func wrapIf(parent string, err error) error {
	if err == nil {
		return nil
	}
	return within(parent, err)
}
