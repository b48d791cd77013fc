package consul

import (
	"maps"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// protocol returns the protocol of service name: its service-defaults
// entry's Protocol, else the global proxy-defaults Config.protocol, else
// tcp, as Consul resolves it.
func (b *builder) protocol(name string) discovery.Protocol {
	if sd, ok := b.entry(api.ServiceDefaults, name).(*api.ServiceConfigEntry); ok && sd.Protocol != "" {
		return mapProtocol(sd.Protocol)
	}
	if pd, ok := b.entry(api.ProxyDefaults, api.ProxyConfigGlobal).(*api.ProxyConfigEntry); ok {
		if p, ok := pd.Config["protocol"].(string); ok && p != "" {
			return mapProtocol(p)
		}
	}
	return discovery.ProtocolTCP
}

// mapProtocol maps a Consul protocol onto the catalog's: http, http2 and
// grpc are proxied at L7 (as HTTP, for now), anything else at L4.
func mapProtocol(p string) discovery.Protocol {
	switch p {
	case "http", "http2", "grpc":
		return discovery.ProtocolHTTP
	default:
		return discovery.ProtocolTCP
	}
}

// proxyConfig returns p's Config merged over the central defaults, as
// Consul resolves a proxy's configuration: the global proxy-defaults
// Config, then the destination's service-defaults (protocol,
// local_connect_timeout_ms, local_request_timeout_ms), then the
// registration's own keys.
func (b *builder) proxyConfig(p *api.AgentServiceConnectProxyConfig) map[string]any {
	out := make(map[string]any)
	if pd, ok := b.entry(api.ProxyDefaults, api.ProxyConfigGlobal).(*api.ProxyConfigEntry); ok {
		maps.Copy(out, pd.Config)
	}
	if sd, ok := b.entry(api.ServiceDefaults, p.DestinationServiceName).(*api.ServiceConfigEntry); ok {
		if sd.Protocol != "" {
			out["protocol"] = sd.Protocol
		}
		if sd.LocalConnectTimeoutMs > 0 {
			out["local_connect_timeout_ms"] = float64(sd.LocalConnectTimeoutMs)
		}
		if sd.LocalRequestTimeoutMs > 0 {
			out["local_request_timeout_ms"] = float64(sd.LocalRequestTimeoutMs)
		}
	}
	maps.Copy(out, p.Config)
	return out
}
