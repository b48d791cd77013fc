package consul

import (
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
