// Package discovery holds the service catalog model that every discovery
// source (a services.yaml file, Consul) produces and the control server
// consumes.
//
// A [Catalog] is immutable once built: sources build a new one for every
// change and hand it on; nothing mutates a published catalog.
package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Protocol is the application protocol a service speaks. It decides whether
// sidecars proxy it at L4 (tcp) or L7 (http).
type Protocol string

// Protocols understood by the translator.
const (
	ProtocolTCP  Protocol = "tcp"
	ProtocolHTTP Protocol = "http"
)

// Health is the health of one endpoint as the source reports it.
type Health string

// Health values, mirroring Envoy's core.v3.HealthStatus.
const (
	HealthHealthy   Health = "healthy"
	HealthUnhealthy Health = "unhealthy"
	HealthDraining  Health = "draining"
)

// Endpoint is one instance of a service.
type Endpoint struct {
	Address string `json:"address"` // IP address
	Port    int    `json:"port"`
	Weight  int    `json:"weight"` // >= 1
	Health  Health `json:"health"`
}

// HostPort returns the endpoint as "address:port".
func (e Endpoint) HostPort() string { return hostPort(e.Address, e.Port) }

// Upstream is a service that a sidecar exposes to its local application on a
// local bind address and port.
type Upstream struct {
	Service     string `json:"service"`
	BindAddress string `json:"bind_address"` // default 127.0.0.1
	BindPort    int    `json:"bind_port"`
}

// Sidecar describes the proxy that runs next to one service.
type Sidecar struct {
	// ID is the xDS node id the sidecar connects with. Defaults to the
	// service name.
	ID string `json:"id"`
	// InboundPort, when not zero, is where the sidecar accepts traffic for
	// the local application, forwarding it to LocalAddress:LocalPort.
	InboundPort  int        `json:"inbound_port"`
	InboundAddr  string     `json:"inbound_address"` // default 127.0.0.1
	LocalAddress string     `json:"local_address"`   // default 127.0.0.1
	LocalPort    int        `json:"local_port"`
	Upstreams    []Upstream `json:"upstreams"`
}

// Service is one named service with its endpoints and, optionally, the
// sidecar that runs beside it.
type Service struct {
	Name      string     `json:"name"`
	Protocol  Protocol   `json:"protocol"`
	Endpoints []Endpoint `json:"endpoints"`
	Sidecar   *Sidecar   `json:"sidecar,omitempty"`
}

// Catalog is an immutable, versioned set of services. The zero value is not
// usable; build one with [New]. A Catalog is safe for concurrent use.
type Catalog struct {
	services []Service // sorted by name
	byName   map[string]int
	version  string
}

// New validates services, fills defaults, sorts them and returns a catalog
// whose Version is a hash of its content, so equal content gives equal
// versions on every replica. services is not retained.
func New(services []Service) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]int, len(services))}
	c.services = make([]Service, len(services))
	for i, s := range services {
		s.Endpoints = cloneOrNil(s.Endpoints)
		if s.Sidecar != nil {
			sc := *s.Sidecar
			sc.Upstreams = cloneOrNil(sc.Upstreams)
			s.Sidecar = &sc
		}
		fillDefaults(&s)
		c.services[i] = s
	}
	slices.SortFunc(c.services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	for i, s := range c.services {
		if _, dup := c.byName[s.Name]; dup {
			return nil, fmt.Errorf("services[%s]: duplicate service name", s.Name)
		}
		c.byName[s.Name] = i
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(c.services)
	if err != nil {
		return nil, fmt.Errorf("hashing catalog: %w", err)
	}
	sum := sha256.Sum256(b)
	c.version = hex.EncodeToString(sum[:8])
	return c, nil
}

// Version is a content hash: two catalogs with the same services have the
// same version.
func (c *Catalog) Version() string { return c.version }

// Services returns the services sorted by name. The caller must not modify
// the returned slice.
func (c *Catalog) Services() []Service { return c.services }

// Service returns the named service.
func (c *Catalog) Service(name string) (*Service, bool) {
	i, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	return &c.services[i], true
}

// Sidecars returns the services that have a sidecar, sorted by name.
func (c *Catalog) Sidecars() []*Service {
	var out []*Service
	for i := range c.services {
		if c.services[i].Sidecar != nil {
			out = append(out, &c.services[i])
		}
	}
	return out
}

// Source produces catalogs. Run blocks until ctx is done or the source fails
// for good, calling publish with every new catalog (never nil). publish is
// never called after Run returns. A source never publishes an empty catalog
// because of an error: on errors it keeps the last good one.
type Source interface {
	Run(ctx context.Context, publish func(*Catalog)) error
}

// cloneOrNil copies s, returning nil when s is empty so that nil and empty
// lists hash to the same version.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func fillDefaults(s *Service) {
	if s.Protocol == "" {
		s.Protocol = ProtocolTCP
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

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return fmt.Sprintf("[%s]:%d", addr, port)
	}
	return fmt.Sprintf("%s:%d", addr, port)
}

func (c *Catalog) validate() error {
	ids := map[string]string{}
	for _, s := range c.services {
		if err := validateService(&s); err != nil {
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
	for i, u := range sc.Upstreams {
		if err := claim(fmt.Sprintf("upstreams[%d].bind_port", i), u.BindAddress, u.BindPort); err != nil {
			return err
		}
	}
	return nil
}
