package config

import (
	"cmp"
	"net"
	"strconv"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// defaultOverprovisioning is Envoy's default overprovisioning_factor.
const defaultOverprovisioning = 140

// liveEndpointsDump renders the endpoints section as Envoy's
// ConfigDumpHandler::dumpEndpointConfigs does
// (source/server/admin/config_dump_handler.cc): one load assignment per
// cluster of the clusters section, whatever its discovery type, in
// static_endpoint_configs for a static_resources cluster and in
// dynamic_endpoint_configs for one from CDS (static first), with neither
// version_info nor last_updated (Envoy sets neither). Each is named by the
// cluster's EDS service name, else its name; its policy carries the
// overprovisioning factor (Envoy's default 140 when not set); its
// endpoints keep their locality, priority and locality weight, and each
// gets its weight and coarse health now (live) and an empty
// health_check_config, as Envoy writes them. An endpoint live no longer
// has is left out.
func liveEndpointsDump(sections []*adminv3.ClustersConfigDump, received *adminv3.EndpointsConfigDump, live spec.LiveEndpoints) (*adminv3.EndpointsConfigDump, error) {
	cla := map[string]*endpointv3.ClusterLoadAssignment{}
	for _, e := range received.GetDynamicEndpointConfigs() {
		c := &endpointv3.ClusterLoadAssignment{}
		if err := e.GetEndpointConfig().UnmarshalTo(c); err != nil {
			return nil, err
		}
		cla[c.GetClusterName()] = c
	}
	for _, e := range received.GetStaticEndpointConfigs() {
		c := &endpointv3.ClusterLoadAssignment{}
		if err := e.GetEndpointConfig().UnmarshalTo(c); err != nil {
			return nil, err
		}
		cla[c.GetClusterName()] = c
	}
	out := &adminv3.EndpointsConfigDump{}
	for _, s := range sections {
		for _, sc := range s.GetStaticClusters() {
			a, err := liveAssignment(sc.GetCluster(), cla, live)
			if err != nil {
				return nil, err
			}
			out.StaticEndpointConfigs = append(out.StaticEndpointConfigs, &adminv3.EndpointsConfigDump_StaticEndpointConfig{EndpointConfig: a})
		}
	}
	for _, s := range sections {
		for _, dc := range s.GetDynamicActiveClusters() {
			a, err := liveAssignment(dc.GetCluster(), cla, live)
			if err != nil {
				return nil, err
			}
			out.DynamicEndpointConfigs = append(out.DynamicEndpointConfigs, &adminv3.EndpointsConfigDump_DynamicEndpointConfig{EndpointConfig: a})
		}
	}
	return out, nil
}

// liveAssignment is the load assignment of one cluster (packed in a), as
// Envoy dumps it.
func liveAssignment(a *anypb.Any, received map[string]*endpointv3.ClusterLoadAssignment, live spec.LiveEndpoints) (*anypb.Any, error) {
	c := &clusterv3.Cluster{}
	if err := a.UnmarshalTo(c); err != nil {
		return nil, err
	}
	name := cmp.Or(c.GetEdsClusterConfig().GetServiceName(), c.GetName())
	src := c.GetLoadAssignment()
	if r, ok := received[name]; ok {
		src = r
	}
	factor := uint32(defaultOverprovisioning)
	if f := src.GetPolicy().GetOverprovisioningFactor(); f != nil {
		factor = f.GetValue()
	}
	out := &endpointv3.ClusterLoadAssignment{ClusterName: name,
		Policy: &endpointv3.ClusterLoadAssignment_Policy{OverprovisioningFactor: wrapperspb.UInt32(factor)}}
	eps := live[c.GetName()]
	for _, loc := range src.GetEndpoints() {
		l := &endpointv3.LocalityLbEndpoints{Locality: loc.GetLocality(), Priority: loc.GetPriority(), LoadBalancingWeight: loc.GetLoadBalancingWeight()}
		for _, lb := range loc.GetLbEndpoints() {
			if e, ok := liveLbEndpoint(lb, eps); ok {
				l.LbEndpoints = append(l.LbEndpoints, e)
			}
		}
		if len(l.LbEndpoints) > 0 {
			out.Endpoints = append(out.Endpoints, l)
		}
	}
	return anypb.New(out)
}

// liveLbEndpoint is lb with its weight and health now, or false when the
// cluster no longer has it.
func liveLbEndpoint(lb *endpointv3.LbEndpoint, eps map[string]spec.LiveEndpoint) (*endpointv3.LbEndpoint, bool) {
	sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
	st, ok := eps[net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))]
	if !ok {
		return nil, false
	}
	ep := proto.Clone(lb.GetEndpoint()).(*endpointv3.Endpoint)
	hc := &endpointv3.Endpoint_HealthCheckConfig{Hostname: ep.GetHealthCheckConfig().GetHostname(), PortValue: ep.GetHealthCheckConfig().GetPortValue()}
	ep.HealthCheckConfig = hc
	return &endpointv3.LbEndpoint{
		HostIdentifier:      &endpointv3.LbEndpoint_Endpoint{Endpoint: ep},
		Metadata:            lb.GetMetadata(),
		LoadBalancingWeight: wrapperspb.UInt32(st.Weight),
		HealthStatus:        coreHealth(st.Health),
	}, true
}

func coreHealth(h spec.HealthStatus) corev3.HealthStatus {
	switch h {
	case spec.Unhealthy:
		return corev3.HealthStatus_UNHEALTHY
	case spec.Degraded:
		return corev3.HealthStatus_DEGRADED
	}
	return corev3.HealthStatus_HEALTHY
}
