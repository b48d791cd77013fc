package consul

import (
	"cmp"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// builder turns the last good query results into catalog services. It is
// used once, by one goroutine.
type builder struct {
	health    map[key][]*api.ServiceEntry
	entries   map[string][]api.ConfigEntry
	warningAs discovery.Health
	logger    *slog.Logger
	local     string // the agent's datacenter, "" if unknown
	mesh      discovery.Mesh

	// proxies indexes connect-proxy instances by the instance they front:
	// node + "/" + destination service ID.
	proxies map[string]*api.ServiceEntry
	byName  map[string]api.ConfigEntry // kind + "/" + name; built on first use
	sorted  []key                      // keys(), once computed

	// Set while compiling discovery chains: the catalog names taken, and
	// the services added for targets.
	names   map[string]bool
	derived []discovery.Service
	// lbs is the balancing of the services routes reach, by catalog name.
	lbs map[string]*discovery.Resilience
}

func newBuilder(health map[key][]*api.ServiceEntry, entries map[string][]api.ConfigEntry,
	warningAs discovery.Health, logger *slog.Logger) *builder {
	b := &builder{health: health, entries: entries, warningAs: warningAs, logger: logger,
		local: localDatacenter(health), proxies: make(map[string]*api.ServiceEntry)}
	for _, k := range b.keys() {
		for _, e := range health[k] {
			if isProxy(e.Service) && e.Service.Proxy.DestinationServiceID != "" {
				b.proxies[e.Node.Node+"/"+e.Service.Proxy.DestinationServiceID] = e
			}
		}
	}
	return b
}

// catalog builds the catalog: one service per watched Consul service
// (connect-proxy services excepted), one sidecar service per connect-proxy
// instance, and an empty service for every upstream not otherwise known.
func (b *builder) catalog() (*discovery.Catalog, error) {
	var out []discovery.Service
	names := make(map[string]bool)
	for _, k := range b.keys() {
		if svc, ok := b.service(k); ok {
			out = append(out, svc)
			names[svc.Name] = true
		}
	}
	out = append(out, b.sidecars()...)
	out = b.placeholders(out, names)
	out = append(out, b.chain(out, names)...)
	mesh := b.mesh
	mesh.NoPanicMode = true // Consul's xDS gives upstreams healthy_panic_threshold {}
	return newCatalog(out, mesh, b.logger)
}

// keys returns the watched services in a fixed order. A key that names
// the local datacenter explicitly (watched before the local datacenter was
// known) is left out: the local key holds the same service.
func (b *builder) keys() []key {
	if b.sorted != nil {
		return b.sorted
	}
	ks := make([]key, 0, len(b.health))
	for k := range b.health {
		if k.dc == "" || k.dc != b.local {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(x, y key) int {
		return cmp.Or(strings.Compare(x.dc, y.dc), strings.Compare(x.name, y.name))
	})
	b.sorted = ks
	return ks
}

// catalogName is the catalog name of service name in datacenter dc: the
// name itself locally, "name.dc" for another datacenter.
func (b *builder) catalogName(dc, name string) string {
	if dc == "" || dc == b.local {
		return name
	}
	return name + "." + dc
}

// service returns the catalog service for k, or false when k holds only
// proxies or gateways (which are not destinations themselves) or nothing.
func (b *builder) service(k key) (discovery.Service, bool) {
	entries := b.health[k]
	svc := discovery.Service{Name: b.catalogName(k.dc, k.name), Protocol: b.protocol(k.name), Datacenter: k.dc}
	found := false
	mesh := b.meshed(k, entries)
	for _, e := range entries {
		if e.Service == nil || e.Service.Kind != api.ServiceKindTypical {
			continue
		}
		found = true
		if svc.Datacenter == "" && e.Node != nil {
			svc.Datacenter = e.Node.Datacenter
		}
		if mesh && b.proxies[e.Node.Node+"/"+e.Service.ID] == nil {
			continue
		}
		if ep, ok := b.endpoint(e); ok {
			svc.Endpoints = append(svc.Endpoints, ep)
		}
	}
	if mesh {
		svc.Identity = k.name
	}
	return svc, found || len(entries) == 0
}

// meshed reports whether k's instances are reached over Connect mTLS: in
// a mesh with a trust domain, a local service with at least one instance
// behind a connect-proxy. Only those instances are then endpoints, as
// Consul's own upstream clusters target connect-capable instances only
// (/v1/health/connect).
func (b *builder) meshed(k key, entries []*api.ServiceEntry) bool {
	if !b.mesh.Enabled() || k.dc != "" {
		return false
	}
	for _, e := range entries {
		if e.Service != nil && e.Service.Kind == api.ServiceKindTypical && e.Node != nil &&
			b.proxies[e.Node.Node+"/"+e.Service.ID] != nil {
			return true
		}
	}
	return false
}

// endpoint maps one instance to an endpoint. An instance fronted by a
// connect-proxy on its node is reached through that proxy (Connect's
// model: traffic enters the destination's sidecar), and is healthy only if
// both the instance and its proxy are.
func (b *builder) endpoint(e *api.ServiceEntry) (discovery.Endpoint, bool) {
	s := e.Service
	addr, port, checks := serviceAddress(e), s.Port, e.Checks
	if p := b.proxies[e.Node.Node+"/"+s.ID]; p != nil {
		addr, port = serviceAddress(p), b.proxyBindPort(p.Service)
		checks = append(slices.Clone(checks), p.Checks...)
	}
	if _, err := netip.ParseAddr(addr); err != nil || port < 1 || port > 65535 {
		b.logger.Debug("skipping instance without an IP address and port",
			"service", s.Service, "id", s.ID, "endpoint", addr)
		return discovery.Endpoint{}, false
	}
	status := checks.AggregatedStatus()
	return discovery.Endpoint{
		Address: addr, Port: port, ID: s.ID, Tags: s.Tags, Meta: s.Meta,
		Health: b.mapHealth(status), Weight: weight(s.Weights, status),
	}, true
}

// mapHealth maps an aggregated Consul check status to endpoint health:
// passing is healthy, warning is WarningAs, critical and maintenance are
// unhealthy.
func (b *builder) mapHealth(status string) discovery.Health {
	switch status {
	case api.HealthPassing:
		return discovery.HealthHealthy
	case api.HealthWarning:
		return b.warningAs
	default:
		return discovery.HealthUnhealthy
	}
}

// weight is the instance's Consul weight for its status, clamped to the
// catalog's 1-128; Consul's default weights are 1.
func weight(w api.AgentWeights, status string) int {
	n := w.Passing
	if status == api.HealthWarning {
		n = w.Warning
	}
	return min(max(n, 1), 128)
}

// serviceAddress is the instance's address, or its node's when the
// registration has none (as Consul's DNS and xDS do).
func serviceAddress(e *api.ServiceEntry) string {
	if e.Service.Address != "" {
		return e.Service.Address
	}
	if e.Node != nil {
		return e.Node.Address
	}
	return ""
}

// localDatacenter returns the datacenter of the agent's own services, read
// from the nodes of any local result; "" if there is none yet.
func localDatacenter(health map[key][]*api.ServiceEntry) string {
	for k, entries := range health {
		if k.dc != "" {
			continue
		}
		for _, e := range entries {
			if e.Node != nil && e.Node.Datacenter != "" {
				return e.Node.Datacenter
			}
		}
	}
	return ""
}
