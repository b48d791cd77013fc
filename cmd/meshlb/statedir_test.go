package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/internal/loopback"
)

// agentClient returns a Consul client for the agent at addr.
func agentClient(t *testing.T, addr string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeAgent answers /v1/agent/services with web's connect-proxy web-proxy-1,
// or with status when it is not 200.
func fakeAgent(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			http.Error(w, "Permission denied", status)
			return
		}
		json.NewEncoder(w).Encode(map[string]*api.AgentService{"web-proxy-1": {ID: "web-proxy-1",
			Service: "web-sidecar-proxy", Kind: api.ServiceKindConnectProxy,
			Proxy: &api.AgentServiceConnectProxyConfig{DestinationServiceName: "web", DestinationServiceID: "web"}}})
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// deadAgent returns the address of a listener that closes every
// connection at once: an agent that gives no HTTP answer.
func deadAgent(t *testing.T) string {
	return loopback.Start(t, func(_ context.Context, c net.Conn) { c.Close() })
}

// -sidecar-for records the agent's answer in --state-dir and falls back
// to it only when the agent gives no answer at all, for the same service.
func TestLookupSidecarStateDir(t *testing.T) {
	ctx, logger := context.Background(), slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if id, err := lookupSidecar(ctx, agentClient(t, fakeAgent(t, 200)), "web", dir, logger); err != nil || id != "web-proxy-1" {
		t.Fatalf("agent up: %q, %v; want web-proxy-1", id, err)
	}
	tests := []struct {
		name, agent, service, dir string
		want, wantErr             string
	}{
		{"agent down, recorded", deadAgent(t), "web", dir, "web-proxy-1", ""},
		{"agent down, other service", deadAgent(t), "api", dir, "", `holds no proxy id for "api"`},
		{"agent down, no state dir", deadAgent(t), "web", "", "", "failed to list"},
		{"agent down, empty state dir", deadAgent(t), "web", t.TempDir(), "", "holds no proxy id"},
		{"agent answers 403", fakeAgent(t, http.StatusForbidden), "web", dir, "", "403"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := lookupSidecar(ctx, agentClient(t, tc.agent), tc.service, tc.dir, logger)
			if id != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("got %q, %v; want %q, error containing %q", id, err, tc.want, tc.wantErr)
			}
		})
	}
}

// Envoy's command line with --state-dir keeps the bootstrap it was given
// (from a FIFO under consul connect envoy) in the state dir, mode 0600.
func TestEnvoyModeKeepsBootstrap(t *testing.T) {
	data := []byte(`{"node": {"id": "web-sidecar-proxy", "cluster": "web"},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}}`)
	cfg := filepath.Join(t.TempDir(), "bootstrap.json")
	if err := os.WriteFile(cfg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve nothing: start, keep, stop
	if err := runEnvoy(ctx, []string{"--config-path", cfg, "--state-dir", dir, "--log-level", "error"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, bootstrapFile)
	got, err := os.ReadFile(kept)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("kept bootstrap: %q, %v; want the one given", got, err)
	}
	if fi, _ := os.Stat(kept); fi.Mode().Perm() != 0o600 {
		t.Errorf("kept bootstrap mode %v, want 0600 (it holds the ACL token)", fi.Mode().Perm())
	}
}
