package discovery

import (
	"fmt"
	"net/netip"
	"strings"
)

func (c *Catalog) validate() error {
	ids := map[string]string{}
	for _, s := range c.services {
		if err := validateService(&s); err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
		if err := c.validateRouting(&s); err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
		if s.Sidecar == nil {
			continue
		}
		if other, dup := ids[s.Sidecar.ID]; dup {
			return fmt.Errorf("service %q: sidecar.id %q is also used by service %q", s.Name, s.Sidecar.ID, other)
		}
		ids[s.Sidecar.ID] = s.Name
		for i, u := range s.Sidecar.Upstreams {
			if _, ok := c.byName[u.Service]; !ok {
				return fmt.Errorf("service %q: sidecar.upstreams[%d].service: unknown service %q", s.Name, i, u.Service)
			}
		}
	}
	return nil
}

func validateService(s *Service) error {
	if s.Name == "" || strings.ContainsAny(s.Name, " /\t\n") {
		return fmt.Errorf("name: must be non-empty with no spaces or slashes")
	}
	switch s.Protocol {
	case ProtocolTCP, ProtocolHTTP:
	default:
		return fmt.Errorf("protocol: %q is not one of tcp, http", s.Protocol)
	}
	for i, e := range s.Endpoints {
		if _, err := netip.ParseAddr(e.Address); err != nil {
			return fmt.Errorf("endpoints[%d].address: %q is not an IP address", i, e.Address)
		}
		if e.Port < 1 || e.Port > 65535 {
			return fmt.Errorf("endpoints[%d].port: %d is out of range 1-65535", i, e.Port)
		}
		if e.Weight < 1 || e.Weight > 128 {
			return fmt.Errorf("endpoints[%d].weight: %d is out of range 1-128", i, e.Weight)
		}
		switch e.Health {
		case HealthHealthy, HealthUnhealthy, HealthDraining:
		default:
			return fmt.Errorf("endpoints[%d].health: %q is not one of healthy, unhealthy, draining", i, e.Health)
		}
	}
	if r := s.Resilience; r != nil {
		if err := validateResilience(r); err != nil {
			return err
		}
	}
	if sc := s.Sidecar; sc != nil {
		if err := validateSidecar(sc); err != nil {
			return fmt.Errorf("sidecar.%w", err)
		}
	}
	return nil
}

func validateSidecar(sc *Sidecar) error {
	ports := map[string]string{}
	claim := func(field, addr string, port int) error {
		if port < 1 || port > 65535 {
			return fmt.Errorf("%s: %d is out of range 1-65535", field, port)
		}
		if _, err := netip.ParseAddr(addr); err != nil {
			return fmt.Errorf("%s: address %q is not an IP address", field, addr)
		}
		hp := hostPort(addr, port)
		if other, dup := ports[hp]; dup {
			return fmt.Errorf("%s: %s is also used by %s", field, hp, other)
		}
		ports[hp] = field
		return nil
	}
	if sc.InboundPort != 0 {
		if err := claim("inbound_port", sc.InboundAddr, sc.InboundPort); err != nil {
			return err
		}
		if sc.LocalPort < 1 || sc.LocalPort > 65535 {
			return fmt.Errorf("local_port: %d is out of range 1-65535 (needed with inbound_port)", sc.LocalPort)
		}
	}
	if sc.LocalConnectTimeout < 0 || sc.LocalRequestTimeout < 0 {
		return fmt.Errorf("local_connect_timeout, local_request_timeout: must not be negative")
	}
	for i, u := range sc.Upstreams {
		if err := claim(fmt.Sprintf("upstreams[%d].bind_port", i), u.BindAddress, u.BindPort); err != nil {
			return err
		}
		if u.Limits != nil {
			if err := u.Limits.validate(); err != nil {
				return fmt.Errorf("upstreams[%d].%w", i, err)
			}
		}
		if u.PassiveHealthCheck != nil {
			if err := u.PassiveHealthCheck.validate(); err != nil {
				return fmt.Errorf("upstreams[%d].passive_health_check: %w", i, err)
			}
		}
	}
	return nil
}
