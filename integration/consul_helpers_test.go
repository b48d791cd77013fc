package integration

import (
	"context"
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
// tools/consul/install.sh caches, else consul on PATH. With none, the test
// fails (never skips: `make test` builds one, and so does CI).
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
	t.Fatal("no Consul agent: run `make test` (it builds one), `make consul`, or set CONSUL_BIN")
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

// start runs the agent process and waits until it is ready: it has a
// leader and syncs registrations to its catalog.
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
	start := time.Now()
	eventually(a.t, "consul to elect a leader", func() bool {
		leader, err := a.client.Status().Leader()
		return err == nil && leader != ""
	})
	a.waitSynced()
	a.t.Logf("%s ready in %v", name, time.Since(start))
}

// consulSyncTimeout bounds waiting for a fresh agent to sync
// registrations: an agent whose first full sync ran before the election
// retries it only after 15-30s (agent/ae: retryFailIntv plus stagger), and
// until then leaves new registrations out of the catalog.
const consulSyncTimeout = 60 * time.Second

// waitSynced registers a probe service and waits until the catalog has
// it, so that the tests' registrations reach the catalog at once. The
// registration itself is retried: with ACLs, the agent refuses it until the
// ACL system has bootstrapped.
func (a *consulAgent) waitSynced() {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consulSyncTimeout)
	defer cancel()
	probe := &api.AgentServiceRegistration{ID: "meshlb-probe", Name: "meshlb-probe", Port: 1}
	var err error
	for registered := false; ; {
		if !registered {
			err = a.client.Agent().ServiceRegister(probe)
			registered = err == nil
		} else if svcs, _, err := a.client.Catalog().Service("meshlb-probe", "", nil); err == nil && len(svcs) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			a.t.Fatalf("consul did not sync a registration to its catalog within %v (last error: %v)", consulSyncTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := a.client.Agent().ServiceDeregister("meshlb-probe"); err != nil {
		a.t.Fatal(err)
	}
}

// stop stops the agent (SIGTERM; a server does not leave the cluster on
// it) and waits for it to exit.
func (a *consulAgent) stop() { a.proc.stop() }
