package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// consulVersion is the agent tools/consul builds (keep in step with its
// go.mod).
const consulVersion = "v1.21.0"

// consulBin finds the Consul agent: $CONSUL_BIN, else the binary that
// tools/consul/install.sh caches, else consul on PATH. It skips the test
// when there is none; CI (.ci/run) always installs one.
func consulBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CONSUL_BIN"); p != "" {
		return p
	}
	cache := os.Getenv("MESHLB_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "meshlb")
	}
	if p := filepath.Join(cache, "consul-"+consulVersion); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p
	}
	t.Skip("no Consul agent: set CONSUL_BIN, or run `make consul` (tools/consul/install.sh) to build one")
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// stablePort returns a loopback port, free for TCP and UDP (serf uses
// both), below Linux's ephemeral range (32768 and up), so that no outgoing
// connection can take it while the agent is stopped for a restart.
func stablePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// consulAgent is a real single-node Consul server on loopback ports. It is
// a server with a data dir rather than `consul agent -dev`: dev mode keeps
// Raft in memory, so a restarted dev agent would come back with an empty
// catalog, and the restart test needs the catalog to survive. The timing
// settings are dev mode's (raft_multiplier 1), so it elects itself in
// about a second.
type consulAgent struct {
	t      *testing.T
	bin    string
	config string // path of the JSON config file
	addr   string // HTTP address
	// meshAddr, when set, is the --consul-addr given to meshlb processes
	// instead of addr; "-" gives none (the environment decides).
	meshAddr string
	client   *api.Client
	proc     *process
	n        int // starts, for log names
}

// startConsul starts an agent with its data in t.TempDir() and waits until
// it has a leader and serves its catalog. edit, if given, changes the
// agent's JSON configuration first.
func startConsul(t *testing.T, edit ...func(cfg map[string]any)) *consulAgent {
	t.Helper()
	a := &consulAgent{t: t, bin: consulBin(t)}
	dir := t.TempDir()
	http := stablePort(t)
	cfg := map[string]any{
		"server": true, "bootstrap_expect": 1, "node_name": "meshlb-it", "datacenter": "dc1",
		"data_dir": filepath.Join(dir, "data"), "bind_addr": "127.0.0.1", "client_addr": "127.0.0.1",
		"advertise_addr": "127.0.0.1", "log_level": "warn", "disable_update_check": true,
		"connect":     map[string]any{"enabled": true},
		"performance": map[string]any{"raft_multiplier": 1},
		"ports": map[string]any{"http": http, "https": -1, "dns": -1, "grpc": -1, "grpc_tls": -1,
			"serf_lan": stablePort(t), "serf_wan": stablePort(t), "server": stablePort(t)},
	}
	for _, e := range edit {
		e(cfg)
	}
	b, _ := json.Marshal(cfg)
	a.config = filepath.Join(dir, "consul.json")
	if err := os.WriteFile(a.config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	a.addr = fmt.Sprintf("127.0.0.1:%d", http)
	c, err := api.NewClient(&api.Config{Address: a.addr, Token: managementToken(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	a.client = c
	a.start()
	return a
}

// managementToken returns acl.tokens.initial_management from cfg, or "".
func managementToken(cfg map[string]any) string {
	acl, _ := cfg["acl"].(map[string]any)
	tokens, _ := acl["tokens"].(map[string]any)
	tok, _ := tokens["initial_management"].(string)
	return tok
}

// start runs the agent process and waits until it is ready.
func (a *consulAgent) start() {
	a.t.Helper()
	a.n++
	p := &process{cmd: exec.Command(a.bin, "agent", "-config-file", a.config), log: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	name := fmt.Sprintf("consul #%d", a.n)
	a.t.Cleanup(func() {
		p.stop()
		if a.t.Failed() {
			a.t.Logf("--- %s log ---\n%s", name, p.log.String())
		}
	})
	a.proc = p
	took := eventually(a.t, "consul to elect a leader and serve its catalog", func() bool {
		leader, err := a.client.Status().Leader()
		if err != nil || leader == "" {
			return false
		}
		nodes, _, err := a.client.Catalog().Nodes(nil)
		return err == nil && len(nodes) > 0
	})
	a.t.Logf("%s ready in %v", name, took)
}

// stop stops the agent (SIGTERM; a server does not leave the cluster on
// it) and waits for it to exit.
func (a *consulAgent) stop() { a.proc.stop() }

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
