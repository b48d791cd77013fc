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
	"slices"
	"strings"
	"time"
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
	// ID identifies the instance in its source (Consul's service ID), for
	// logs and explanations; empty for file catalogs.
	ID string `json:"id,omitempty"`
	// Tags and Meta are the instance's labels as the source reports them
	// (Consul service tags and meta); resolver subsets filter on them.
	Tags []string          `json:"tags,omitempty"`
	Meta map[string]string `json:"meta,omitempty"`
}

// HostPort returns the endpoint as "address:port".
func (e Endpoint) HostPort() string { return hostPort(e.Address, e.Port) }

// Upstream is a service that a sidecar exposes to its local application on a
// local bind address and port.
type Upstream struct {
	Service     string `json:"service"`
	BindAddress string `json:"bind_address"` // default 127.0.0.1
	BindPort    int    `json:"bind_port"`
	// Datacenter is the datacenter the upstream was asked for in, as
	// registered (Consul's Upstream.Datacenter); informational, Service
	// already names the catalog entry that holds its endpoints.
	Datacenter string `json:"datacenter,omitempty"`
	// Limits, if set, caps this sidecar's traffic to the service.
	Limits *Limits `json:"limits,omitempty"`
	// PassiveHealthCheck, if set, is this sidecar's outlier detection of
	// the service's endpoints (Consul's upstream passive_health_check);
	// it replaces the service's own.
	PassiveHealthCheck *Outlier `json:"passive_health_check,omitempty"`
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
	// LocalConnectTimeout bounds connecting to the local application; zero
	// means the translator's default.
	LocalConnectTimeout time.Duration `json:"local_connect_timeout,omitempty"`
	// LocalRequestTimeout bounds a request to the local application
	// (HTTP only); zero means the translator's default.
	LocalRequestTimeout time.Duration `json:"local_request_timeout,omitempty"`
	// Service is the service the sidecar proxies for when it differs from
	// the enclosing Service's name (a Consul connect-proxy's destination).
	Service string `json:"service,omitempty"`
}

// Service is one named service with its endpoints and, optionally, the
// sidecar that runs beside it.
type Service struct {
	Name      string     `json:"name"`
	Protocol  Protocol   `json:"protocol"`
	Endpoints []Endpoint `json:"endpoints"`
	Sidecar   *Sidecar   `json:"sidecar,omitempty"`
	// Datacenter is where the service's endpoints live; empty for sources
	// without datacenters.
	Datacenter string `json:"datacenter,omitempty"`
	// Routes, for HTTP services, is the routing table sidecars apply to
	// requests for this service, in order; a request no route matches goes
	// to the service's own endpoints. For TCP services only a catch-all
	// route counts. Empty: every request goes to the service's endpoints.
	Routes []Route `json:"routes,omitempty"`
	// Failover lists services whose endpoints take over, in order, when
	// none of this service's endpoints is healthy.
	Failover []string `json:"failover,omitempty"`
	// ConnectTimeout bounds connecting to an endpoint; zero means the
	// translator's default.
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	// Identity, in a mesh with mTLS, is the service name whose
	// certificate the endpoints present (their sidecars' public
	// listeners): sidecars connect to them over mTLS and check that
	// SPIFFE ID. Empty: the endpoints are reached in plaintext.
	Identity string `json:"identity,omitempty"`
	// Resilience is how callers balance, health-check and retry the
	// service's endpoints; nil: the translator's defaults.
	Resilience *Resilience `json:"resilience,omitempty"`
}

// SidecarIdentity is the service name a sidecar proxies for and whose
// certificate it presents: Sidecar.Service, or the service's name.
func (s *Service) SidecarIdentity() string {
	if s.Sidecar != nil && s.Sidecar.Service != "" {
		return s.Sidecar.Service
	}
	return s.Name
}

// Catalog is an immutable, versioned set of services. The zero value is not
// usable; build one with [New]. A Catalog is safe for concurrent use.
type Catalog struct {
	services []Service // sorted by name
	hashes   []string  // content hash of each service, as services
	byName   map[string]int
	version  string
	mesh     Mesh
	meshVer  string
	secrets  *Secrets // not part of version
}

// New validates services, fills defaults, sorts them and returns a catalog
// whose Version is a hash of its content, so equal content gives equal
// versions on every replica. services is not retained.
func New(services []Service) (*Catalog, error) { return NewMesh(services, Mesh{}) }

// NewMesh is [New] for a catalog with a mesh security model, which is
// part of the version. mesh is not retained.
func NewMesh(services []Service, mesh Mesh) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]int, len(services)), mesh: mesh}
	fillMesh(&c.mesh)
	if err := validateMesh(&c.mesh); err != nil {
		return nil, fmt.Errorf("mesh: %w", err)
	}
	c.services = make([]Service, len(services))
	for i, s := range services {
		cloneService(&s)
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
	if err := c.hash(); err != nil {
		return nil, err
	}
	return c, nil
}

// hash sets the hash of every service and the catalog's version, a hash of
// those in name order.
func (c *Catalog) hash() error {
	c.hashes = make([]string, len(c.services))
	all := sha256.New()
	for i := range c.services {
		b, err := json.Marshal(&c.services[i])
		if err != nil {
			return fmt.Errorf("hashing service %q: %w", c.services[i].Name, err)
		}
		sum := sha256.Sum256(b)
		c.hashes[i] = hex.EncodeToString(sum[:8])
		all.Write(sum[:])
	}
	if c.mesh.Enabled() {
		sum, err := hashJSON(&c.mesh)
		if err != nil {
			return fmt.Errorf("hashing mesh: %w", err)
		}
		c.meshVer = hex.EncodeToString(sum[:8])
		all.Write(sum)
	}
	c.version = hex.EncodeToString(all.Sum(nil)[:8])
	return nil
}

// Version is a content hash: two catalogs with the same services have the
// same version.
func (c *Catalog) Version() string { return c.version }

// Mesh returns the catalog's mesh model; the caller must not modify it.
func (c *Catalog) Mesh() *Mesh { return &c.mesh }

// MeshVersion is a content hash of [Catalog.Mesh]; "" without mTLS.
func (c *Catalog) MeshVersion() string { return c.meshVer }

// WithSecrets returns a copy of c holding s, which is not part of
// [Catalog.Version]: consumers compare [Secrets.Version] on its own.
func (c *Catalog) WithSecrets(s *Secrets) *Catalog {
	n := *c
	n.secrets = s
	return &n
}

// Secrets returns the catalog's certificate material, nil if none.
func (c *Catalog) Secrets() *Secrets { return c.secrets }

// ServiceVersion is a content hash of the named service, equal across
// catalogs for equal content; "" if there is no such service. Consumers
// use it to skip work for services that did not change.
func (c *Catalog) ServiceVersion(name string) string {
	i, ok := c.byName[name]
	if !ok {
		return ""
	}
	return c.hashes[i]
}

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

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return fmt.Sprintf("[%s]:%d", addr, port)
	}
	return fmt.Sprintf("%s:%d", addr, port)
}
