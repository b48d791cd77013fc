package config

import "strconv"

// ValidateListenerClusters applies Envoy's validate_clusters to the route
// configurations inline in l's HTTP connection managers: unless one sets
// validate_clusters to false, each cluster its routes name must exist (has
// reports whether it does). Route configurations fetched over RDS are
// checked by [ValidateRouteClusters] when they arrive. The error names the
// listener and the field, as in
//
//	listener "web": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route.cluster: unknown cluster "x" (validate_clusters)
//
// A listener is checked against the clusters known when it arrives, as in
// Envoy; a cluster removed later is answered with 503 at request time.
func ValidateListenerClusters(l *Listener, has func(string) bool) error {
	for i := range l.FilterChains {
		if err := validateChainClusters(&l.FilterChains[i], has); err != nil {
			return &resourceError{kind: "listener", name: l.Name, err: within(index("filter_chains", i), err)}
		}
	}
	if l.Default != nil {
		if err := validateChainClusters(l.Default, has); err != nil {
			return &resourceError{kind: "listener", name: l.Name, err: within("default_filter_chain", err)}
		}
	}
	return nil
}

// ValidateRouteClusters applies validate_clusters to rc, a route
// configuration fetched over RDS: only when rc sets it to true (Envoy's
// default for RDS is false), each cluster its routes name must exist.
func ValidateRouteClusters(rc *RouteConfig, has func(string) bool) error {
	if rc.ValidateClusters == nil || !*rc.ValidateClusters {
		return nil
	}
	if err := routeClusters(rc, has); err != nil {
		return &resourceError{kind: "route_config", name: rc.Name, err: err}
	}
	return nil
}

// validateChainClusters checks the inline route configuration of ch's HTTP
// connection manager, the chain's last filter.
func validateChainClusters(ch *FilterChain, has func(string) bool) error {
	if ch.HTTP == nil || ch.HTTP.Routes == nil {
		return nil
	}
	rc := ch.HTTP.Routes
	if rc.ValidateClusters != nil && !*rc.ValidateClusters {
		return nil
	}
	path := index("filters", len(ch.Filters)) + ".typed_config.route_config"
	if err := routeClusters(rc, has); err != nil {
		return within(path, err)
	}
	return nil
}

// routeClusters requires every cluster rc's routes name to exist.
func routeClusters(rc *RouteConfig, has func(string) bool) error {
	for v, vh := range rc.VirtualHosts {
		for r, rt := range vh.Routes {
			if rt.Action == nil {
				continue
			}
			path := index("virtual_hosts", v) + "." + index("routes", r) + ".route."
			if c := rt.Action.Cluster; c != "" && len(rt.Action.Weighted) == 0 && !has(c) {
				return errorf(path+"cluster", "unknown cluster %s (validate_clusters)", strconv.Quote(c))
			}
			for w, wc := range rt.Action.Weighted {
				if !has(wc.Name) {
					return errorf(path+"weighted_clusters.clusters["+strconv.Itoa(w)+"].name",
						"unknown cluster %s (validate_clusters)", strconv.Quote(wc.Name))
				}
			}
		}
	}
	return nil
}
