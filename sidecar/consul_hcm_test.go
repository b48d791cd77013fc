package sidecar

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// wsEcho answers a WebSocket upgrade with 101 and then echoes bytes.
func wsEcho(t *testing.T) string {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		io.Copy(conn, rw)
	}))
	t.Cleanup(be.Close)
	return strings.TrimPrefix(be.URL, "http://")
}

// normalize_path and merge_slashes rewrite the path before routing and
// forwarding: the backend sees the normalized path.
func TestConsulHCMNormalizePath(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RequestURI)
	}))
	defer be.Close()
	s := newSidecar(t)
	addr := freeAddr(t)
	l := consulHTTPListener(t, addr, "be")
	if err := s.Apply(&config.Set{Listeners: []config.Listener{*l},
		Clusters: []config.Cluster{staticCluster("be", strings.TrimPrefix(be.URL, "http://"))}}); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/a/./b/../c//d/%7e?q=%2e%2e": "/a/c/d/~?q=%2e%2e",
		"/../../etc/passwd":           "/etc/passwd",
		"/x/%2E%2e/y%2f":              "/y%2F",
	} {
		if got := rawGET(t, addr, in); got != want {
			t.Errorf("GET %s: backend saw %q, want %q", in, got, want)
		}
	}
}

// rawGET sends GET target as written (no client-side cleaning) and
// returns the response body.
func rawGET(t *testing.T, addr, target string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A listener as Consul sends it, with upgrade_configs [websocket] and
// tracing, decodes and tunnels a WebSocket upgrade both ways; tracing is
// announced once, whatever the number of updates, and changes nothing.
func TestConsulHCMWebSocketAndTracing(t *testing.T) {
	var logs bytes.Buffer
	sw := &syncWriter{w: &logs}
	s := New(slog.New(slog.NewTextHandler(sw, nil)))
	t.Cleanup(func() { s.Close(time.Second) })
	be := wsEcho(t)
	addr := freeAddr(t)
	l := consulHTTPListener(t, addr, "be")
	for range 2 { // the second Apply must not log the notice again
		if err := s.Apply(&config.Set{Listeners: []config.Listener{*l}, Clusters: []config.Cluster{staticCluster("be", be)}}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	io.WriteString(c, "ping over the tunnel")
	buf := make([]byte, len("ping over the tunnel"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping over the tunnel" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	sw.mu.Lock()
	out := logs.String()
	sw.mu.Unlock()
	if n := strings.Count(out, "meshlb emits no spans"); n != 1 {
		t.Errorf("tracing notice logged %d times, want once:\n%s", n, out)
	}
}

// consulHTTPListener decodes, as an Envoy bootstrap's static listener, an
// HTTP listener on addr to cluster with the options Consul sets on every
// HTTP listener.
func consulHTTPListener(t *testing.T, addr, cluster string) *config.Listener {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	yaml := `static_resources:
  listeners:
  - name: public_listener
    address: {socket_address: {address: ` + host + `, port_value: ` + port + `}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: public_listener
          tracing: {random_sampling: {}}
          upgrade_configs: [{upgrade_type: websocket}]
          normalize_path: true
          merge_slashes: true
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            name: public_listener
            virtual_hosts:
            - {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: ` + cluster + `}}]}
`
	b, err := config.ParseBootstrap("consul.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &b.Static.Listeners[0]
}

// syncWriter serializes writes to w (a logger writes from several
// goroutines).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
