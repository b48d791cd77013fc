package server

import (
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/discovery"
)

// LocalAppCluster is the name of the STATIC cluster that points at the
// application beside a sidecar; the inbound listener forwards to it.
const LocalAppCluster = "local_app"

// connectTimeout is the connect_timeout of every cluster we generate.
const connectTimeout = 5 * time.Second

// adsConfigSource tells Envoy to fetch a resource over the ADS stream it
// already has, with the v3 transport and resource API.
func adsConfigSource() *core.ConfigSource {
	return &core.ConfigSource{
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
		ResourceApiVersion:    core.ApiVersion_V3,
	}
}

// edsCluster returns the EDS cluster for svc (round robin, unless its
// resilience says otherwise, with its health check and outlier detection); its endpoints come
// from the ClusterLoadAssignment of the same name. Its connect timeout is
// svc.ConnectTimeout, or connectTimeout if zero; limits, if not nil, become
// its default-priority circuit breakers, and outlier, if not nil, replaces
// its outlier detection (an upstream's passive health check).
func edsCluster(svc *discovery.Service, limits *discovery.Limits, outlier *discovery.Outlier) *cluster.Cluster {
	timeout := connectTimeout
	if svc.ConnectTimeout > 0 {
		timeout = svc.ConnectTimeout
	}
	c := &cluster.Cluster{
		Name:                 svc.Name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource()},
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		ConnectTimeout:       durationpb.New(timeout),
		CircuitBreakers:      circuitBreakers(limits),
	}
	clusterResilience(c, svc.Resilience)
	if outlier != nil {
		c.OutlierDetection = outlierDetection(outlier)
	}
	return c
}

// noPanic is the common_lb_config Consul's xDS server gives every
// upstream cluster: healthy_panic_threshold {} (0%), so Envoy never
// balances over unhealthy endpoints.
func noPanic() *cluster.Cluster_CommonLbConfig {
	return &cluster.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{}}
}

// circuitBreakers returns the thresholds for limits; nil for none.
func circuitBreakers(l *discovery.Limits) *cluster.CircuitBreakers {
	if l == nil || *l == (discovery.Limits{}) {
		return nil
	}
	t := &cluster.CircuitBreakers_Thresholds{}
	set := func(n int) *wrapperspb.UInt32Value {
		if n == 0 {
			return nil
		}
		return wrapperspb.UInt32(uint32(n))
	}
	t.MaxConnections, t.MaxPendingRequests, t.MaxRequests =
		set(l.MaxConnections), set(l.MaxPendingRequests), set(l.MaxConcurrentRequests)
	return &cluster.CircuitBreakers{Thresholds: []*cluster.CircuitBreakers_Thresholds{t}}
}

// loadAssignment returns the ClusterLoadAssignment for svc, with every
// endpoint in catalog order and its weight and health at priority 0, and
// the endpoints of svc.Failover[i] at priority i+1, so that they serve
// only while no endpoint of a better priority is usable.
func loadAssignment(cat *reads, svc *discovery.Service) *endpoint.ClusterLoadAssignment {
	cla := &endpoint.ClusterLoadAssignment{
		ClusterName: svc.Name,
		Endpoints:   []*endpoint.LocalityLbEndpoints{locality(svc.Endpoints, 0)},
	}
	for _, name := range svc.Failover {
		// Priorities must be contiguous: skip failover services without
		// endpoints rather than leave a gap.
		if f, ok := cat.Service(name); ok && len(f.Endpoints) > 0 {
			cla.Endpoints = append(cla.Endpoints, locality(f.Endpoints, uint32(len(cla.Endpoints))))
		}
	}
	return cla
}

// locality returns eps as one locality at priority p.
func locality(eps []discovery.Endpoint, p uint32) *endpoint.LocalityLbEndpoints {
	lbs := make([]*endpoint.LbEndpoint, 0, len(eps))
	for _, e := range eps {
		lbs = append(lbs, lbEndpoint(e.Address, e.Port, e.Weight, healthStatus(e.Health)))
	}
	return &endpoint.LocalityLbEndpoints{LbEndpoints: lbs, Priority: p}
}

// localAppCluster returns the STATIC cluster that reaches the application at
// sc.LocalAddress:sc.LocalPort, with its single endpoint inline. Its
// connect timeout is sc.LocalConnectTimeout, or connectTimeout if zero.
func localAppCluster(sc *discovery.Sidecar) *cluster.Cluster {
	ep := lbEndpoint(sc.LocalAddress, sc.LocalPort, 1, core.HealthStatus_UNKNOWN)
	ep.LoadBalancingWeight = nil
	timeout := connectTimeout
	if sc.LocalConnectTimeout > 0 {
		timeout = sc.LocalConnectTimeout
	}
	return &cluster.Cluster{
		Name:                 LocalAppCluster,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		ConnectTimeout:       durationpb.New(timeout),
		LoadAssignment: &endpoint.ClusterLoadAssignment{
			ClusterName: LocalAppCluster,
			Endpoints:   []*endpoint.LocalityLbEndpoints{{LbEndpoints: []*endpoint.LbEndpoint{ep}}},
		},
	}
}

func lbEndpoint(addr string, port, weight int, health core.HealthStatus) *endpoint.LbEndpoint {
	return &endpoint.LbEndpoint{
		HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
			Address: socketAddress(addr, port),
		}},
		HealthStatus:        health,
		LoadBalancingWeight: wrapperspb.UInt32(uint32(weight)),
	}
}

// socketAddress returns a TCP socket address; addr is an IP literal.
func socketAddress(addr string, port int) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       addr,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(port)},
	}}}
}

// healthStatus maps catalog health onto Envoy's; unknown values (which
// [discovery.New] rejects) map to UNKNOWN, which Envoy treats as healthy.
func healthStatus(h discovery.Health) core.HealthStatus {
	switch h {
	case discovery.HealthHealthy:
		return core.HealthStatus_HEALTHY
	case discovery.HealthUnhealthy:
		return core.HealthStatus_UNHEALTHY
	case discovery.HealthDraining:
		return core.HealthStatus_DRAINING
	default:
		return core.HealthStatus_UNKNOWN
	}
}
