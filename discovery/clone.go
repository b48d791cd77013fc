package discovery

import (
	"maps"
	"slices"
)

// cloneOrNil copies s, returning nil when s is empty so that nil and empty
// lists hash to the same version.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// cloneService replaces s's slices, maps and sidecar with copies, so the
// catalog shares nothing with its caller.
func cloneService(s *Service) {
	s.Endpoints = cloneOrNil(s.Endpoints)
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		e.Tags = cloneOrNil(e.Tags)
		if len(e.Meta) == 0 {
			e.Meta = nil
		} else {
			e.Meta = maps.Clone(e.Meta)
		}
	}
	if s.Sidecar != nil {
		sc := *s.Sidecar
		sc.Upstreams = cloneOrNil(sc.Upstreams)
		for i := range sc.Upstreams {
			if l := sc.Upstreams[i].Limits; l != nil {
				lc := *l
				sc.Upstreams[i].Limits = &lc
			}
			sc.Upstreams[i].PassiveHealthCheck = sc.Upstreams[i].PassiveHealthCheck.clone()
		}
		s.Sidecar = &sc
	}
	if s.Resilience != nil {
		s.Resilience = cloneResilience(s.Resilience)
	}
	s.Failover = cloneOrNil(s.Failover)
	s.Routes = cloneOrNil(s.Routes)
	for i := range s.Routes {
		r := &s.Routes[i]
		r.Destinations = cloneOrNil(r.Destinations)
		r.Match.Methods = cloneOrNil(r.Match.Methods)
		r.Match.Headers = cloneOrNil(r.Match.Headers)
		r.Match.Query = cloneOrNil(r.Match.Query)
		r.HashPolicies = cloneOrNil(r.HashPolicies)
		if r.Retry != nil {
			rt := *r.Retry
			rt.On = cloneOrNil(rt.On)
			rt.StatusCodes = cloneOrNil(rt.StatusCodes)
			r.Retry = &rt
		}
	}
}

// fillDefaults sets the documented defaults of s's empty fields.
func fillDefaults(s *Service) {
	if s.Protocol == "" {
		s.Protocol = ProtocolTCP
	}
	if s.Resilience != nil {
		fillResilience(s.Resilience)
	}
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		if e.Weight == 0 {
			e.Weight = 1
		}
		if e.Health == "" {
			e.Health = HealthHealthy
		}
	}
	if sc := s.Sidecar; sc != nil {
		if sc.ID == "" {
			sc.ID = s.Name
		}
		if sc.InboundAddr == "" {
			sc.InboundAddr = "127.0.0.1"
		}
		if sc.LocalAddress == "" {
			sc.LocalAddress = "127.0.0.1"
		}
		for i := range sc.Upstreams {
			if sc.Upstreams[i].BindAddress == "" {
				sc.Upstreams[i].BindAddress = "127.0.0.1"
			}
		}
	}
}
