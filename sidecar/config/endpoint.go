package config

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

var (
	claFields    = allow(&endpointv3.ClusterLoadAssignment{}, "cluster_name", "endpoints", "policy")
	claPolicy    = allow(&endpointv3.ClusterLoadAssignment_Policy{}, "overprovisioning_factor")
	localityName = allow(&corev3.Locality{}, "region", "zone", "sub_zone")
	// A locality and its weight matter with locality-weighted balancing.
	localityFields = allow(&endpointv3.LocalityLbEndpoints{},
		"locality", "metadata", "lb_endpoints", "load_balancing_weight", "priority")
	lbEndpointFields = allow(&endpointv3.LbEndpoint{}, "endpoint", "health_status", "metadata", "load_balancing_weight")
	endpointFields   = allow(&endpointv3.Endpoint{}, "address", "hostname")
)

var healthStatuses = map[corev3.HealthStatus]HealthStatus{
	corev3.HealthStatus_UNKNOWN:   Healthy,
	corev3.HealthStatus_HEALTHY:   Healthy,
	corev3.HealthStatus_UNHEALTHY: Unhealthy,
	corev3.HealthStatus_DRAINING:  Draining,
	corev3.HealthStatus_TIMEOUT:   Unhealthy,
	corev3.HealthStatus_DEGRADED:  Degraded,
}

// DecodeLoadAssignment validates cla and decodes it into a
// [LoadAssignment], one [Endpoint] per lb_endpoint, in order. An error
// names the assignment by cluster_name and the field, as in
//
//	cluster_load_assignment "be": endpoints[0].lb_endpoints[1].endpoint.address.socket_address.address: "db.local" is not an IP address
//
// DecodeLoadAssignment is safe for concurrent use and does not retain cla.
func DecodeLoadAssignment(cla *endpointv3.ClusterLoadAssignment) (*LoadAssignment, error) {
	if err := validate(cla); err != nil {
		return nil, &resourceError{kind: "cluster_load_assignment", name: cla.GetClusterName(), err: err}
	}
	out, err := decodeLoadAssignment(cla)
	if err != nil {
		return nil, &resourceError{kind: "cluster_load_assignment", name: cla.GetClusterName(), err: err}
	}
	return out, nil
}

// decodeLoadAssignment decodes a validated assignment, standalone or
// inline in a STATIC cluster.
func decodeLoadAssignment(cla *endpointv3.ClusterLoadAssignment) (*LoadAssignment, error) {
	if err := claFields.check(cla); err != nil {
		return nil, err
	}
	out := &LoadAssignment{ClusterName: cla.GetClusterName()}
	if p := cla.GetPolicy(); p != nil {
		if err := claPolicy.check(p); err != nil {
			return nil, within("policy", err)
		}
		out.Overprovisioning = p.GetOverprovisioningFactor().GetValue() // PGV: > 0
	}
	for i, loc := range cla.GetEndpoints() {
		eps, err := decodeLocality(loc)
		if err != nil {
			return nil, within(index("endpoints", i), err)
		}
		out.Endpoints = append(out.Endpoints, eps...)
	}
	return out, nil
}

// decodeLocality decodes the endpoints of one locality, which all take its
// priority.
func decodeLocality(loc *endpointv3.LocalityLbEndpoints) ([]Endpoint, error) {
	if err := localityFields.check(loc); err != nil {
		return nil, err
	}
	l := loc.GetLocality()
	if err := localityName.check(l); err != nil {
		return nil, within("locality", err)
	}
	name := localityKey(l)
	out := make([]Endpoint, 0, len(loc.GetLbEndpoints()))
	for i, lb := range loc.GetLbEndpoints() {
		ep, err := decodeLbEndpoint(lb)
		if err != nil {
			return nil, within(index("lb_endpoints", i), err)
		}
		ep.Priority = loc.GetPriority()
		ep.Locality, ep.LocalityWeight = name, loc.GetLoadBalancingWeight().GetValue()
		out = append(out, ep)
	}
	return out, nil
}

// decodeLbEndpoint decodes one endpoint; its weight defaults to 1 and its
// health status UNKNOWN counts as healthy, TIMEOUT as unhealthy.
func decodeLbEndpoint(lb *endpointv3.LbEndpoint) (Endpoint, error) {
	if err := lbEndpointFields.check(lb); err != nil {
		return Endpoint{}, err
	}
	e := lb.GetEndpoint()
	if e == nil {
		return Endpoint{}, errorf("endpoint", "required")
	}
	if err := endpointFields.check(e); err != nil {
		return Endpoint{}, within("endpoint", err)
	}
	addr, err := decodeAddress(e.GetAddress(), false)
	if err != nil {
		return Endpoint{}, within("endpoint.address", err)
	}
	health, ok := healthStatuses[lb.GetHealthStatus()]
	if !ok {
		return Endpoint{}, errorf("health_status", "%s is not supported", lb.GetHealthStatus())
	}
	out := Endpoint{Address: addr, Weight: 1, Health: health}
	if w := lb.GetLoadBalancingWeight(); w != nil {
		out.Weight = w.GetValue()
	}
	return out, nil
}

// localityKey names locality l "region/zone/sub_zone", "" when l is nil
// or empty (Envoy's default locality): an endpoint's locality and the
// node's compare by it.
func localityKey(l *corev3.Locality) string {
	if l.GetRegion() == "" && l.GetZone() == "" && l.GetSubZone() == "" {
		return ""
	}
	return l.GetRegion() + "/" + l.GetZone() + "/" + l.GetSubZone()
}
