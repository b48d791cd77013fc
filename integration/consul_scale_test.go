package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Sizes of TestConsulScale: MESHLB_CONSUL_SCALE services (default 300,
// twice what one long-poll per service fitted in the agent's default
// connection limit) and MESHLB_CONSUL_SCALE_PROXIES connect-proxies
// (default 100), whose upstreams cover every service.
func scaleSizes(t *testing.T) (services, proxies int) {
	t.Helper()
	return envInt(t, "MESHLB_CONSUL_SCALE", 300), envInt(t, "MESHLB_CONSUL_SCALE_PROXIES", 100)
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// maxConsulConns bounds the connections the control server holds to the
// agent, whatever the catalog's size (issue 14).
const maxConsulConns = 50

// A Consul agent at its default limits (limits.http_max_conns_per_client
// 200) with many services and connect-proxies, registered through the API
// in batches: the control server publishes, holds fewer than 50
// connections to the agent, and a sidecar sees a health flip of one
// instance of its upstream within 1 s.
func TestConsulScale(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	nsvc, nproxy := scaleSizes(t)
	a := startConsul(t)
	t0 := time.Now()
	registerScale(t, a, nsvc, min(nproxy, nsvc))
	t.Logf("registered %d services and %d connect-proxies in %v", nsvc, min(nproxy, nsvc), time.Since(t0))

	upstream, admin := freePort(t), freePort(t)
	a.register(&api.AgentServiceRegistration{ID: "probe", Name: "probe", Address: "127.0.0.1", Port: freePort(t)})
	a.register(&api.AgentServiceRegistration{
		Kind: api.ServiceKindConnectProxy, ID: "probe-sidecar-proxy", Name: "probe-sidecar-proxy",
		Address: "127.0.0.1", Port: freePort(t),
		Proxy: &api.AgentServiceConnectProxyConfig{DestinationServiceName: "probe", DestinationServiceID: "probe",
			Upstreams: []api.Upstream{{DestinationName: scaleName(0), LocalBindPort: upstream}}},
	})
	xds := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	started := time.Now()
	control := start(t, "control", append([]string{"control", "--consul", "--xds-addr", xds}, a.meshFlags()...)...)
	conns := watchConns(t, control, a.addr)
	t.Cleanup(func() { t.Logf("connections from the control server to consul: max %d", conns.max.Load()) })
	limit := waitTimeout + time.Duration(nsvc)*5*time.Millisecond
	first := within(t, "the first catalog", limit, func() bool {
		return strings.Contains(control.log.String(), "catalog changed")
	})
	start(t, "sidecar", "sidecar", "--xds", xds, "-proxy-id", "probe-sidecar-proxy",
		"--consul-addr", a.addr, "--admin", fmt.Sprintf("127.0.0.1:%d", admin))
	clusters := fmt.Sprintf("http://127.0.0.1:%d/clusters", admin)
	// The first service is reached through its connect-proxy (port 21000).
	endpoint := scaleAddr(0) + ":21000::health_flags::"
	within(t, "the sidecar to have its upstream", limit, func() bool {
		return clustersHave(clusters, endpoint+"healthy")
	})
	ready := time.Since(started)

	// The first flips may wait for the control server to finish publishing
	// the first catalog to every node; they are reported, not bounded.
	var flips [4]time.Duration
	for i, status := range []string{api.HealthCritical, api.HealthPassing, api.HealthCritical, api.HealthPassing} {
		flag := "healthy"
		if status == api.HealthCritical {
			flag = "/failed_eds_health"
		}
		flips[i] = flip(t, a, clusters, endpoint, status, flag, i >= 2)
	}
	// A new instance changes the services table: found by a sweep. The
	// service is in the Connect mesh, so the instance counts once its own
	// connect-proxy is registered, and is reached through it.
	txn(t, a, api.TxnOps{{Service: &api.ServiceTxnOp{Verb: api.ServiceSet, Node: scaleNode(0), Service: api.AgentService{
		ID: scaleName(0) + "-2", Service: scaleName(0), Address: "10.250.0.1", Port: 8080}}}})
	proxy := scaleProxy(0, nsvc, 0)
	proxy.Service.ID, proxy.Service.Address = scaleName(0)+"-2-sidecar-proxy", "10.250.0.1"
	proxy.Service.Proxy.DestinationServiceID = scaleName(0) + "-2"
	if _, err := a.client.Catalog().Register(proxy, nil); err != nil {
		t.Fatal(err)
	}
	added := within(t, "the sidecar to see a new instance", limit, func() bool {
		return clustersHave(clusters, "10.250.0.1:21000::health_flags::healthy")
	})
	t.Logf("services=%d proxies=%d: first catalog %v, sidecar with its upstream %v, "+
		"connections to consul max %d (now %d), health flip to the sidecar: first %v/%v, then critical %v, passing %v; "+
		"new instance to the sidecar %v",
		nsvc, min(nproxy, nsvc), first, ready, conns.max.Load(), conns.now.Load(), flips[0], flips[1], flips[2], flips[3], added)
	if os.Getenv("MESHLB_CONSUL_SCALE_LOG") != "" {
		t.Logf("--- control log ---\n%s", control.log.String())
	}
	if n := conns.max.Load(); n >= maxConsulConns {
		t.Errorf("the control server held %d connections to consul, want under %d", n, maxConsulConns)
	}
}

// flip sets the check of the first service's instance to status through
// the catalog and returns how long the sidecar took to show its endpoint
// with flag; with bounded, it fails the test beyond 1 s.
func flip(t *testing.T, a *consulAgent, clusters, endpoint, status, flag string, bounded bool) time.Duration {
	t.Helper()
	txn(t, a, api.TxnOps{scaleCheck(0, status)})
	took := within(t, "the sidecar to see the check "+status, waitTimeout, func() bool {
		return clustersHave(clusters, endpoint+flag)
	})
	if bounded && took > time.Second {
		t.Errorf("a check turned %s reached the sidecar in %v, want within 1s", status, took)
	}
	return took
}

func clustersHave(url, line string) bool {
	code, body, err := httpGet(http.DefaultClient, url)
	return err == nil && code == 200 && strings.Contains(body, line)
}

// within polls cond every 10ms until it holds, failing the test after
// limit, and returns how long that took.
func within(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// scaleNodes is how many catalog nodes the services are spread over.
const scaleNodes = 50

func scaleName(i int) string { return fmt.Sprintf("svc-%05d", i) }
func scaleNode(i int) string { return fmt.Sprintf("scale-node-%d", i%scaleNodes) }

// scaleAddr is the address of service i's instance, unique per service.
func scaleAddr(i int) string {
	i++
	return fmt.Sprintf("10.%d.%d.%d", 1+i/65536, (i/256)%256, i%256)
}

func scaleCheck(i int, status string) *api.TxnOp {
	return &api.TxnOp{Check: &api.CheckTxnOp{Verb: api.CheckSet, Check: api.HealthCheck{
		Node: scaleNode(i), CheckID: "check:" + scaleName(i), Name: "check", Status: status,
		ServiceID: scaleName(i) + "-1", ServiceName: scaleName(i)}}}
}

// registerScale registers nsvc services, one instance each with a passing
// check, and nproxy connect-proxies in front of the first ones, through
// /v1/txn (128 operations per request at most), as an external
// registration tool would. The upstreams of the proxies cover every
// service, so the mesh uses them all.
func registerScale(t *testing.T, a *consulAgent, nsvc, nproxy int) {
	t.Helper()
	perProxy := min((nsvc+nproxy-1)/nproxy, 10)
	var ops api.TxnOps
	flush := func() {
		if len(ops) > 0 {
			txn(t, a, ops)
			ops = nil
		}
	}
	for i := range scaleNodes {
		ops = append(ops, &api.TxnOp{Node: &api.NodeTxnOp{Verb: api.NodeSet,
			Node: api.Node{Node: scaleNode(i), Address: fmt.Sprintf("10.0.0.%d", i+1)}}})
	}
	flush()
	for i := range nsvc {
		ops = append(ops, &api.TxnOp{Service: &api.ServiceTxnOp{Verb: api.ServiceSet, Node: scaleNode(i),
			Service: api.AgentService{ID: scaleName(i) + "-1", Service: scaleName(i), Address: scaleAddr(i), Port: 8080}}},
			scaleCheck(i, api.HealthPassing))
		if len(ops) > 120 {
			flush()
		}
	}
	flush()
	registerProxies(t, a, nsvc, nproxy, perProxy)
}

// registerProxies registers nproxy connect-proxies with perProxy upstreams
// each, through /v1/catalog/register, 8 requests at a time: /v1/txn drops
// a proxy's upstreams and config.
func registerProxies(t *testing.T, a *consulAgent, nsvc, nproxy, perProxy int) {
	t.Helper()
	ids := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range ids {
				if _, err := a.client.Catalog().Register(scaleProxy(i, nsvc, perProxy), nil); err != nil {
					errs <- fmt.Errorf("registering proxy %d: %w", i, err)
					return
				}
			}
		})
	}
	for i := range nproxy {
		select {
		case ids <- i:
		case err := <-errs:
			close(ids)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(ids)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// scaleProxy is the connect-proxy of service i's instance, with perProxy
// upstreams.
func scaleProxy(i, nsvc, perProxy int) *api.CatalogRegistration {
	p := &api.AgentServiceConnectProxyConfig{DestinationServiceName: scaleName(i),
		DestinationServiceID: scaleName(i) + "-1", LocalServicePort: 8080}
	for k := range perProxy {
		p.Upstreams = append(p.Upstreams, api.Upstream{DestinationName: scaleName((i*perProxy + k) % nsvc),
			LocalBindPort: 9000 + k})
	}
	return &api.CatalogRegistration{Node: scaleNode(i), SkipNodeUpdate: true, Service: &api.AgentService{
		Kind: api.ServiceKindConnectProxy, ID: scaleName(i) + "-1-sidecar-proxy", Service: scaleName(i) + "-sidecar-proxy",
		Address: scaleAddr(i), Port: 21000, Proxy: p}}
}

func txn(t *testing.T, a *consulAgent, ops api.TxnOps) {
	t.Helper()
	ok, resp, _, err := a.client.Txn().Txn(ops, nil)
	if err != nil || !ok {
		var errs []string
		if resp != nil {
			for _, e := range resp.Errors {
				errs = append(errs, e.What)
			}
		}
		t.Fatalf("consul txn of %d operations: %v %v", len(ops), err, errs)
	}
}

// connCounter samples how many TCP connections a process holds to an
// address.
type connCounter struct{ now, max atomic.Int64 }

// watchConns samples every 10ms, until the test ends, the established
// connections from p to addr (host:port), read from /proc.
func watchConns(t *testing.T, p *process, addr string) *connCounter {
	t.Helper()
	c := &connCounter{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			n := int64(countConns(p.cmd.Process.Pid, addr))
			c.now.Store(n)
			if n > c.max.Load() {
				c.max.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { close(done); wg.Wait() })
	return c
}

// countConns counts the established TCP connections of process pid whose
// remote end is addr, an IPv4 host:port: its socket inodes matched
// against /proc/net/tcp.
func countConns(pid int, addr string) int {
	inodes := socketInodes(pid)
	remote := procAddr(addr)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[2] == remote && fields[3] == "01" && inodes[fields[9]] {
			n++
		}
	}
	return n
}

// socketInodes returns the inodes of the sockets pid has open.
func socketInodes(pid int) map[string]bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	out := make(map[string]bool, len(ents))
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); ok && err == nil {
			out[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return out
}

// procAddr writes an IPv4 host:port as /proc/net/tcp does: the address as
// a little-endian hex word, then the port in hex.
func procAddr(addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	var b [4]int
	fmt.Sscanf(host, "%d.%d.%d.%d", &b[0], &b[1], &b[2], &b[3])
	p, _ := strconv.Atoi(port)
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], p)
}

// An agent whose limits.http_max_conns_per_client is below what the
// control server needs answers 429: the control server logs it as an
// error that names the limit, rather than warnings or nothing.
func TestConsulConnectionLimitIsAnError(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t, func(cfg map[string]any) {
		cfg["limits"] = map[string]any{"http_max_conns_per_client": 6}
	})
	xds := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	control := start(t, "control", append([]string{"control", "--consul", "--xds-addr", xds}, a.meshFlags()...)...)
	eventually(t, "an error naming the connection limit", func() bool {
		for _, line := range strings.Split(control.log.String(), "\n") {
			if strings.Contains(line, "level=ERROR") && strings.Contains(line, "limits.http_max_conns_per_client") {
				return true
			}
		}
		return false
	})
}
