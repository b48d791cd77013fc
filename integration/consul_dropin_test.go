package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// withGRPC gives the agent a plaintext gRPC (xDS) port and returns its
// address through addr.
func withGRPC(t *testing.T, addr *string) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		port := stablePort(t)
		cfg["ports"].(map[string]any)["grpc"] = port
		*addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
}

// serviceToken returns a token with the service identity of service, as
// a sidecar of that service is given in production.
func (a *consulAgent) serviceToken(service string) string {
	a.t.Helper()
	tok, _, err := a.client.ACL().TokenCreate(&api.ACLToken{
		ServiceIdentities: []*api.ACLServiceIdentity{{ServiceName: service}}}, nil)
	if err != nil {
		a.t.Fatalf("creating a token for %s: %v", service, err)
	}
	return tok.SecretID
}

// registerWithSidecar registers instance id of service on port with a
// connect sidecar proxy (id "<id>-sidecar-proxy") on proxyPort.
func (a *consulAgent) registerWithSidecar(service, id string, port, proxyPort int, meta map[string]string, ups ...api.Upstream) {
	a.t.Helper()
	a.register(&api.AgentServiceRegistration{ID: id, Name: service, Address: "127.0.0.1", Port: port, Meta: meta,
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{
			Port: proxyPort, Proxy: &api.AgentServiceConnectProxyConfig{Upstreams: ups}}}})
}

// startEnvoyDropIn runs `consul connect envoy -envoy-binary <meshlb>
// -sidecar-for service` against agent a (gRPC at grpcAddr) with token, as
// a Consul user runs Envoy: Consul checks meshlb's --version, writes the
// bootstrap into a FIFO and execs meshlb with Envoy's command line. No
// meshlb control server is involved. It waits until the admin listener
// is ready and returns its port.
func startEnvoyDropIn(t *testing.T, a *consulAgent, grpcAddr, service, token string) (*process, int) {
	t.Helper()
	adminPort := freePort(t)
	return startEnvoyDropInAt(t, a, grpcAddr, service, token, adminPort), adminPort
}

// startEnvoyDropInAt is startEnvoyDropIn with the admin listener on
// adminPort and passthrough, the arguments after `--` that Consul hands
// to the binary.
func startEnvoyDropInAt(t *testing.T, a *consulAgent, grpcAddr, service, token string, adminPort int, passthrough ...string) *process {
	t.Helper()
	cmd := exec.Command(a.bin, append([]string{"connect", "envoy", "-envoy-binary", meshlbBin, "-sidecar-for", service,
		"-http-addr", a.addr, "-grpc-addr", grpcAddr, "-token", token,
		"-admin-bind", fmt.Sprintf("127.0.0.1:%d", adminPort), "--", "--log-level", "debug"}, passthrough...)...)
	p := startCmd(t, service+" sidecar (consul connect envoy)", cmd)
	waitReady(t, adminPort)
	return p
}

// getsAPI reports whether a GET through the local upstream port on a new
// connection is answered by the api backend.
func getsAPI(url string) bool {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	code, body, err := httpGet(c, url)
	return err == nil && code == 200 && body == "api"
}

// web → api (TCP) over two meshlb sidecars that Consul's own xDS server
// drives, started by `consul connect envoy -envoy-binary meshlb`, with
// ACLs on (default deny) and service-identity tokens: an allow intention
// lets traffic flow over mTLS, the public listener refuses plaintext, and
// a deny intention stops new connections within 2 s; Consul's
// envoy_prometheus_bind_addr listener serves the sidecar's metrics.
func TestConsulEnvoyDropInTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withACLs, withGRPC(t, &grpcAddr))
	be := startBackend(t, "api")
	upstream, apiProxy, prom := freePort(t), freePort(t), freePort(t)
	a.register(&api.AgentServiceRegistration{ID: "api", Name: "api", Address: "127.0.0.1", Port: be.port,
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{Port: apiProxy,
			Proxy: &api.AgentServiceConnectProxyConfig{Config: map[string]any{
				"envoy_prometheus_bind_addr": fmt.Sprintf("127.0.0.1:%d", prom)}}}}})
	a.registerWithSidecar("web", "web", freePort(t), freePort(t), nil,
		api.Upstream{DestinationName: "api", LocalBindPort: upstream})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api",
		Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionAllow}}})

	startEnvoyDropIn(t, a, grpcAddr, "api", a.serviceToken("api"))
	startEnvoyDropIn(t, a, grpcAddr, "web", a.serviceToken("web"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", upstream)
	eventually(t, "web → api through both sidecars", func() bool { return getsAPI(url) })

	// envoy_prometheus_bind_addr: Consul's bootstrap listener serves the
	// admin's /stats/prometheus as /metrics.
	code, body, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/metrics", prom))
	if err != nil || code != 200 || !strings.Contains(body, "envoy_") {
		t.Errorf("GET /metrics on envoy_prometheus_bind_addr: %d %v, body %.200q", code, err, body)
	}
	// The stats_config tags of Consul's bootstrap label the stats as
	// Envoy's do (issue 12, 13): api's sidecar has no upstream, so only its
	// fixed tags apply here (sidecar/admin TestConsulStatsTags checks the
	// consul.destination.* ones on this bootstrap).
	for _, want := range []string{`local_cluster="api"`, `consul_source_service="api"`, `consul_source_datacenter="dc1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks the label %s", want)
		}
	}

	// The public listener is mTLS only: plaintext gets no answer.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	if code, _, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/", apiProxy)); err == nil {
		t.Errorf("plaintext to api's public listener answered %d, want the connection refused", code)
	}

	start := time.Now()
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api",
		Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionDeny}}})
	eventually(t, "the deny intention to take effect", func() bool { return !getsAPI(url) })
	took := time.Since(start)
	t.Logf("deny intention took effect on new connections after %v", took)
	if took > 2*time.Second {
		t.Errorf("deny took %v, want within 2s", took)
	}
	for range 5 {
		if getsAPI(url) {
			t.Fatal("a new connection got through after the deny intention")
		}
	}
}

// A 90/10 service-splitter over api's two subsets, from Consul's config
// entries through Consul's own xDS server to meshlb sidecars started by
// `consul connect envoy` (HTTP, mTLS, ACL default deny with an allow
// intention): v1's share over 2,000 requests is within 87-93%.
func TestConsulEnvoyDropInSplitter(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withACLs, withGRPC(t, &grpcAddr))
	v1, v2 := startBackend(t, "v1"), startBackend(t, "v2")
	a.setProtocol("web", "http")
	a.setProtocol("api", "http")
	a.setEntry(&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "api", DefaultSubset: "v1",
		Subsets: map[string]api.ServiceResolverSubset{
			"v1": {Filter: "Service.Meta.version == v1"}, "v2": {Filter: "Service.Meta.version == v2"}}})
	a.setEntry(&api.ServiceSplitterConfigEntry{Kind: api.ServiceSplitter, Name: "api", Splits: []api.ServiceSplit{
		{Weight: 90, ServiceSubset: "v1"}, {Weight: 10, ServiceSubset: "v2"}}})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api",
		Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionAllow}}})
	upstream := freePort(t)
	a.registerWithSidecar("api", "api-v1", v1.port, freePort(t), map[string]string{"version": "v1"})
	a.registerWithSidecar("api", "api-v2", v2.port, freePort(t), map[string]string{"version": "v2"})
	a.registerWithSidecar("web", "web", freePort(t), freePort(t), nil,
		api.Upstream{DestinationName: "api", LocalBindPort: upstream})
	tok := a.serviceToken("api")
	startEnvoyDropIn(t, a, grpcAddr, "api-v1", tok)
	startEnvoyDropIn(t, a, grpcAddr, "api-v2", tok)
	startEnvoyDropIn(t, a, grpcAddr, "web", a.serviceToken("web"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", upstream)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to v1 and v2", func() bool { return seenAll(c, url, v1, v2) })
	const n = 2000
	count := map[string]int{}
	for range n {
		_, body, err := httpGet(c, url)
		if err != nil {
			t.Fatal(err)
		}
		count[body]++
	}
	share := float64(count["v1"]) / n * 100
	t.Logf("splitter 90/10 over %d requests: v1 %.1f%% (%v)", n, share, count)
	if share < 87 || share > 93 || count["v1"]+count["v2"] != n {
		t.Errorf("v1 share %.1f%% (%v), want 87-93%% and only v1/v2", share, count)
	}
}

// A drop-in sidecar given `-- --state-dir DIR` by `consul connect envoy`
// keeps its last good configuration and the bootstrap Consul wrote there.
// With the Consul agent down, `consul connect envoy` cannot start (it asks
// the agent for the proxy's registration), but `meshlb --config-path
// DIR/bootstrap.json --state-dir DIR` starts and serves web → api (mTLS,
// intentions) from the state at once.
func TestConsulEnvoyDropInStateDir(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withACLs, withGRPC(t, &grpcAddr))
	be := startBackend(t, "api")
	upstream, webAdmin := freePort(t), freePort(t)
	a.registerWithSidecar("api", "api", be.port, freePort(t), nil)
	a.registerWithSidecar("web", "web", freePort(t), freePort(t), nil,
		api.Upstream{DestinationName: "api", LocalBindPort: upstream})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api",
		Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionAllow}}})
	startEnvoyDropIn(t, a, grpcAddr, "api", a.serviceToken("api"))
	state := t.TempDir()
	webToken := a.serviceToken("web")
	web := startEnvoyDropInAt(t, a, grpcAddr, "web", webToken, webAdmin, "--state-dir", state)
	url := fmt.Sprintf("http://127.0.0.1:%d/", upstream)
	eventually(t, "web → api through both sidecars", func() bool { return getsAPI(url) })
	eventually(t, "the xDS state to be written", func() bool {
		_, err := os.Stat(filepath.Join(state, "xds-state.json"))
		return err == nil
	})

	web.stop()
	a.stop()
	out, err := exec.Command(a.bin, "connect", "envoy", "-envoy-binary", meshlbBin, "-sidecar-for", "web",
		"-http-addr", a.addr, "-grpc-addr", grpcAddr, "-token", webToken).CombinedOutput()
	if err == nil {
		t.Fatalf("consul connect envoy started with the agent down: %s", out)
	}
	t.Logf("consul connect envoy with the agent down: %v: %.200s", err, out)
	start(t, "web sidecar (restarted from --state-dir)", "--config-path", filepath.Join(state, "bootstrap.json"),
		"--state-dir", state)
	waitReady(t, webAdmin)
	if !getsAPI(url) {
		t.Fatal("restarted web sidecar with the agent down: no answer from api, want api at once")
	}
}
