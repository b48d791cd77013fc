package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/internal/loopback"
)

// web → api (HTTP) and web → db (TCP) over meshlb sidecars that Consul's
// own xDS server drives, with the Proxy.Config knobs users set:
//   - api: bind_address and bind_port (the public listener binds there),
//     local_request_timeout_ms (a local app that never answers gives web
//     504 at the bound, not after the 15 s default) and
//     local_connect_timeout_ms;
//   - db: the envoy_public_listener_json and envoy_local_cluster_json
//     escape hatches (Consul adds its RBAC filter and mTLS to the user's
//     listener; traffic flows through both).
func TestConsulEnvoyDropInKnobs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withACLs, withGRPC(t, &grpcAddr))
	stall := loopback.Start(t, func(ctx context.Context, c net.Conn) {
		bufio.NewReader(c).ReadString('\n') // the request line, then silence
		<-ctx.Done()
	})
	_, stallPortS, _ := net.SplitHostPort(stall)
	stallPort, _ := strconv.Atoi(stallPortS)
	echo := startEcho(t)
	apiUp, dbUp, apiBind, dbProxy := freePort(t), freePort(t), freePort(t), freePort(t)

	a.setProtocol("api", "http")
	a.setProtocol("web", "http")
	a.setProtocol("db", "tcp")
	for _, s := range []string{"api", "db"} {
		a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: s,
			Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionAllow}}})
	}
	// The public listener binds bind_address:bind_port; web's sidecar dials
	// the registered address and port, so they are the same here.
	a.register(&api.AgentServiceRegistration{ID: "api", Name: "api", Address: "127.0.0.1", Port: stallPort,
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{Port: apiBind,
			Proxy: &api.AgentServiceConnectProxyConfig{Config: map[string]any{
				"bind_address": "127.0.0.1", "bind_port": apiBind,
				"local_request_timeout_ms": 700, "local_connect_timeout_ms": 900,
			}}}}})
	a.register(&api.AgentServiceRegistration{ID: "db", Name: "db", Address: "127.0.0.1", Port: freePort(t),
		Connect: &api.AgentServiceConnect{SidecarService: &api.AgentServiceRegistration{Port: dbProxy,
			Proxy: &api.AgentServiceConnectProxyConfig{Config: map[string]any{
				"envoy_public_listener_json": customPublicListener(dbProxy),
				"envoy_local_cluster_json":   customLocalCluster(echo),
			}}}}})
	a.registerWithSidecar("web", "web", freePort(t), freePort(t), nil,
		api.Upstream{DestinationName: "api", LocalBindPort: apiUp},
		api.Upstream{DestinationName: "db", LocalBindPort: dbUp})

	startEnvoyDropIn(t, a, grpcAddr, "api", a.serviceToken("api"))
	startEnvoyDropIn(t, a, grpcAddr, "db", a.serviceToken("db"))
	startEnvoyDropIn(t, a, grpcAddr, "web", a.serviceToken("web"))

	// db's escape hatches: the user's listener and local_app carry a line.
	eventually(t, "web → db through db's envoy_public_listener_json", func() bool {
		return echoLine(fmt.Sprintf("127.0.0.1:%d", dbUp), "knob") == "knob"
	})

	// api's local_request_timeout_ms: 504 at 0.7 s.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", apiUp)
	eventually(t, "web → api answered 504 by api's sidecar", func() bool {
		code, _, err := httpGet(c, url)
		return err == nil && code == http.StatusGatewayTimeout
	})
	start := time.Now()
	code, body, err := httpGet(c, url)
	took := time.Since(start)
	if err != nil || code != http.StatusGatewayTimeout || took < 700*time.Millisecond || took > 5*time.Second {
		t.Errorf("GET through api's sidecar to an app that never answers: %d %q %v after %v, want 504 after about 0.7s", code, body, err, took)
	}
	if !strings.Contains(body, "upstream request timeout") {
		t.Logf("504 body: %q", body)
	}
}

// echoLine sends line to the line echo server behind addr and returns
// what comes back, or "" on any error.
func echoLine(addr, line string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return ""
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(got, "\n")
}
