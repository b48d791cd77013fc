package consul

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// SidecarPrefix prefixes the catalog name of the service entry that holds
// a connect-proxy's sidecar: "connect-proxy:<proxy service id>". The prefix
// keeps these entries apart from Consul's service names.
const SidecarPrefix = "connect-proxy:"

// isProxy reports whether s is a Connect sidecar proxy registration.
func isProxy(s *api.AgentService) bool {
	return s != nil && s.Kind == api.ServiceKindConnectProxy && s.Proxy != nil
}

// sidecars returns one service holding a sidecar for every connect-proxy
// instance in the agent's datacenter, sorted as found. Node ids (the proxy
// service ids) must be unique: a proxy id registered on several nodes is
// served for the first node by name only, and the others are logged.
func (b *builder) sidecars() []discovery.Service {
	var out []discovery.Service
	seen := make(map[string]string) // proxy id → node
	for _, k := range b.keys() {
		if k.dc != "" {
			continue
		}
		for _, e := range b.health[k] {
			if !isProxy(e.Service) {
				continue
			}
			if node, dup := seen[e.Service.ID]; dup {
				b.logger.Warn("connect-proxy id registered on several nodes, serving the first",
					"node", e.Node.Node, "first", node, "id", e.Service.ID)
				continue
			}
			svc, err := b.sidecar(e)
			if err != nil {
				b.logger.Warn("skipping connect-proxy", "id", e.Service.ID, "err", err)
				continue
			}
			seen[e.Service.ID] = e.Node.Node
			out = append(out, svc)
		}
	}
	return out
}

// sidecar maps one connect-proxy registration to the service holding its
// sidecar. The sidecar's node id is the proxy's service id.
func (b *builder) sidecar(e *api.ServiceEntry) (discovery.Service, error) {
	s, p := e.Service, e.Service.Proxy
	raw := b.proxyConfig(p)
	warnIgnoredKeys(b.logger, s.ID, raw)
	cfg, err := parseProxyConfig(raw)
	if err != nil {
		return discovery.Service{}, err
	}
	sc := &discovery.Sidecar{
		ID: s.ID, Service: p.DestinationServiceName,
		InboundAddr: serviceAddress(e), InboundPort: b.proxyBindPort(s),
		LocalAddress: p.LocalServiceAddress, LocalPort: p.LocalServicePort,
		LocalConnectTimeout: cfg.localConnectTimeout, LocalRequestTimeout: cfg.localRequestTimeout,
	}
	if cfg.bindAddress != "" {
		sc.InboundAddr = cfg.bindAddress
	}
	if sc.LocalPort == 0 {
		sc.LocalPort = b.destinationPort(e)
	}
	if sc.LocalPort == 0 {
		sc.InboundPort = 0 // nothing to forward to: upstreams only
	}
	for _, u := range p.Upstreams {
		if up, ok := b.upstream(s.ID, u); ok {
			up.Limits = b.upstreamLimits(p.DestinationServiceName, u)
			up.PassiveHealthCheck = b.passiveHealthCheck(p.DestinationServiceName, u)
			sc.Upstreams = append(sc.Upstreams, up)
		}
	}
	protocol := b.protocol(p.DestinationServiceName)
	if cfg.protocol != "" {
		protocol = mapProtocol(cfg.protocol)
	}
	return discovery.Service{Name: SidecarPrefix + s.ID, Protocol: protocol, Sidecar: sc,
		Datacenter: e.Node.Datacenter}, nil
}

// upstream maps one Connect upstream; prepared queries and unix sockets
// are not supported and are skipped with a log.
func (b *builder) upstream(proxyID string, u api.Upstream) (discovery.Upstream, bool) {
	if u.DestinationType == api.UpstreamDestTypePreparedQuery || u.LocalBindSocketPath != "" || u.LocalBindPort == 0 {
		b.logger.Warn("skipping unsupported upstream (prepared query, unix socket or no local_bind_port)",
			"id", proxyID, "upstream", u.DestinationName)
		return discovery.Upstream{}, false
	}
	return discovery.Upstream{
		Service:     b.catalogName(u.Datacenter, u.DestinationName),
		BindAddress: u.LocalBindAddress, BindPort: u.LocalBindPort, Datacenter: u.Datacenter,
	}, true
}

// destinationPort returns the port of the instance a proxy fronts, found
// on the proxy's node, for registrations without LocalServicePort.
func (b *builder) destinationPort(proxy *api.ServiceEntry) int {
	p := proxy.Service.Proxy
	for _, e := range b.health[key{name: p.DestinationServiceName}] {
		if e.Node.Node == proxy.Node.Node && (p.DestinationServiceID == "" || e.Service.ID == p.DestinationServiceID) {
			return e.Service.Port
		}
	}
	return 0
}

// placeholders appends an empty service for every upstream whose service is
// not in names, as Consul gives Envoy an empty cluster for a destination
// that has no instances yet.
func (b *builder) placeholders(out []discovery.Service, names map[string]bool) []discovery.Service {
	n := len(out)
	for i := range n {
		sc := out[i].Sidecar
		if sc == nil {
			continue
		}
		for _, u := range sc.Upstreams {
			if names[u.Service] {
				continue
			}
			names[u.Service] = true
			out = append(out, discovery.Service{Name: u.Service, Protocol: b.protocol(u.Service)})
		}
	}
	return out
}

// proxyBindPort is the port the proxy's public listener binds: bind_port
// of its resolved config (see proxyConfig), else its registered port.
func (b *builder) proxyBindPort(s *api.AgentService) int {
	if cfg, err := parseProxyConfig(b.proxyConfig(s.Proxy)); err == nil && cfg.bindPort != 0 {
		return cfg.bindPort
	}
	return s.Port
}

// proxyConfig is the part of a connect-proxy's opaque Proxy.Config that
// meshlb understands, with the key names Consul's Envoy integration uses.
type proxyConfig struct {
	protocol            string
	bindAddress         string
	bindPort            int
	localConnectTimeout time.Duration
	localRequestTimeout time.Duration
}

func parseProxyConfig(m map[string]any) (proxyConfig, error) {
	var c proxyConfig
	var err error
	if v, ok := m["protocol"].(string); ok {
		c.protocol = v
	}
	if v, ok := m["bind_address"].(string); ok {
		c.bindAddress = v
	}
	if c.bindPort, err = configInt(m, "bind_port"); err != nil {
		return c, err
	}
	ms, err := configInt(m, "local_connect_timeout_ms")
	c.localConnectTimeout = time.Duration(ms) * time.Millisecond
	if err != nil {
		return c, err
	}
	ms, err = configInt(m, "local_request_timeout_ms")
	c.localRequestTimeout = time.Duration(ms) * time.Millisecond
	return c, err
}

// configInt reads an integer that arrived through JSON, as a number or a
// string; 0 if absent.
func configInt(m map[string]any, k string) (int, error) {
	switch v := m[k].(type) {
	case nil:
		return 0, nil
	case float64:
		if v == float64(int(v)) && v >= 0 {
			return int(v), nil
		}
	case string:
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("Proxy.Config.%s: %v is not a non-negative integer", k, m[k])
}
