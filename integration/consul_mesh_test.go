package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// register registers a service on the agent.
func (a *consulAgent) register(reg *api.AgentServiceRegistration) {
	a.t.Helper()
	if err := a.client.Agent().ServiceRegister(reg); err != nil {
		a.t.Fatalf("registering %s: %v", reg.ID, err)
	}
}

// registerWeb registers instance id of service web for backend b; with
// ttl, the instance has a TTL check named "ttl:<id>" that starts passing.
func (a *consulAgent) registerWeb(id string, b *backend, ttl bool) {
	a.t.Helper()
	reg := &api.AgentServiceRegistration{ID: id, Name: "web", Address: "127.0.0.1", Port: b.port}
	if ttl {
		reg.Check = &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "10m", Status: api.HealthPassing}
	}
	a.register(reg)
}

// registerClientProxy registers service "client" and its connect-proxy
// "client-sidecar-proxy" with one upstream to web on upstreamPort.
func (a *consulAgent) registerClientProxy(upstreamPort int) {
	a.t.Helper()
	a.register(&api.AgentServiceRegistration{ID: "client", Name: "client", Address: "127.0.0.1", Port: freePort(a.t)})
	a.register(&api.AgentServiceRegistration{
		Kind: api.ServiceKindConnectProxy, ID: "client-sidecar-proxy", Name: "client-sidecar-proxy",
		Address: "127.0.0.1", Port: freePort(a.t),
		Proxy: &api.AgentServiceConnectProxyConfig{
			DestinationServiceName: "client", DestinationServiceID: "client",
			Upstreams: []api.Upstream{{DestinationName: "web", LocalBindPort: upstreamPort}},
		},
	})
}

// setProtocol writes a service-defaults config entry.
func (a *consulAgent) setProtocol(service, protocol string) {
	a.t.Helper()
	e := &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: service, Protocol: protocol}
	if _, _, err := a.client.ConfigEntries().Set(e, nil); err != nil {
		a.t.Fatalf("writing service-defaults for %s: %v", service, err)
	}
}

// consulMesh is a Consul agent, `meshlb control --consul` on it, and the
// sidecar of service "client" started with -sidecar-for, whose upstream
// web listens on webPort.
type consulMesh struct {
	consul             *consulAgent
	xds                string
	webPort, adminPort int
	control, sidecar   *process
	started            time.Time // when the sidecar started
}

// startConsulMesh registers web's instances (HTTP) and the client proxy,
// then starts the control server and the client's sidecar and waits until
// the sidecar is ready.
func startConsulMesh(t *testing.T, a *consulAgent, web ...*backend) *consulMesh {
	t.Helper()
	m := &consulMesh{consul: a, xds: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		webPort: freePort(t), adminPort: freePort(t)}
	a.setProtocol("web", "http")
	for _, b := range web {
		a.registerWeb("web-"+b.name, b, false)
	}
	a.registerClientProxy(m.webPort)
	m.control = start(t, "control", append([]string{"control", "--consul", "--xds-addr", m.xds}, a.meshFlags()...)...)
	m.started = time.Now()
	m.sidecar = start(t, "sidecar", append([]string{"sidecar", "--xds", m.xds, "-sidecar-for", "client",
		"--admin", fmt.Sprintf("127.0.0.1:%d", m.adminPort)}, a.meshFlags()...)...)
	waitReady(t, m.adminPort)
	return m
}

// meshFlags returns the --consul-addr flag for meshlb processes.
func (a *consulAgent) meshFlags() []string {
	switch a.meshAddr {
	case "":
		return []string{"--consul-addr", a.addr}
	case "-":
		return nil
	default:
		return []string{"--consul-addr", a.meshAddr}
	}
}

func (m *consulMesh) webURL() string { return fmt.Sprintf("http://127.0.0.1:%d/", m.webPort) }
