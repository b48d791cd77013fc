package consul

import (
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// protocol returns the protocol of service name: its service-defaults
// entry's Protocol, else the global proxy-defaults Config.protocol, else
// tcp, as Consul resolves it.
func (b *builder) protocol(name string) discovery.Protocol {
	for _, e := range b.entries[api.ServiceDefaults] {
		if sd, ok := e.(*api.ServiceConfigEntry); ok && sd.Name == name && sd.Protocol != "" {
			return mapProtocol(sd.Protocol)
		}
	}
	for _, e := range b.entries[api.ProxyDefaults] {
		if pd, ok := e.(*api.ProxyConfigEntry); ok && pd.Name == api.ProxyConfigGlobal {
			if p, ok := pd.Config["protocol"].(string); ok && p != "" {
				return mapProtocol(p)
			}
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
