package server

import (
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// routeConfig returns a route table with one virtual host (name vhost,
// domains ["*"]) that sends every path ("/" prefix) to cluster.
func routeConfig(name, vhost, cluster string) *route.RouteConfiguration {
	return &route.RouteConfiguration{
		Name: name,
		VirtualHosts: []*route.VirtualHost{{
			Name:    vhost,
			Domains: []string{"*"},
			Routes: []*route.Route{{
				Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
				Action: &route.Route_Route{Route: &route.RouteAction{
					ClusterSpecifier: &route.RouteAction_Cluster{Cluster: cluster},
				}},
			}},
		}},
	}
}
