package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// wsEchoBackend is a real WebSocket server (golang.org/x/net/websocket)
// echoing every message on /ws and /off; it returns its port.
func wsEchoBackend(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo := websocket.Handler(func(c *websocket.Conn) {
		var msg []byte
		for websocket.Message.Receive(c, &msg) == nil {
			if websocket.Message.Send(c, msg) != nil {
				return
			}
		}
	})
	srv := &http.Server{Handler: echo}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// wsBootstrap is a sidecar whose HTTP listener lets WebSocket upgrades
// through (HCM upgrade_configs) except on /off, whose route disables
// them (RouteAction.upgrade_configs enabled: false). hcmExtra are more
// HCM fields (YAML lines indented for them).
func wsBootstrap(t *testing.T, adminPort, httpPort, be int, hcmExtra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	yaml := fmt.Sprintf(`node: { id: ws, cluster: ws }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: %d } }
static_resources:
  listeners:
  - name: ws
    address: { socket_address: { address: 127.0.0.1, port_value: %d } }
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ws
          upgrade_configs: [{ upgrade_type: websocket }]
%s          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/off" }
                route: { cluster: be, upgrade_configs: [{ upgrade_type: websocket, enabled: false }] }
              - match: { prefix: "/" }
                route: { cluster: be, timeout: 0s }
          http_filters:
          - name: router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: be
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: be
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }
`, adminPort, httpPort, strings.Join(hcmExtra, ""), be)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWebSocketEcho: a real WebSocket client and server
// (golang.org/x/net/websocket) through a real sidecar over an HTTP/1.1
// upgrade: 10,000 messages of varying size each come back unchanged and
// in order. On a route whose upgrade_configs disable websocket the
// upgrade is refused 403, as Envoy does.
func TestWebSocketEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := wsEchoBackend(t)
	adminPort, port := freePort(t), freePort(t)
	start(t, "sidecar", "sidecar", "--config", wsBootstrap(t, adminPort, port, be))
	waitReady(t, adminPort)
	origin := fmt.Sprintf("http://127.0.0.1:%d/", port)

	c, err := websocket.Dial(fmt.Sprintf("ws://127.0.0.1:%d/ws", port), "", origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	const n = 10000
	var got []byte
	for i := range n {
		msg := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%512)
		msg = fmt.Appendf(msg, "#%d", i)
		if err := websocket.Message.Send(c, msg); err != nil {
			t.Fatalf("message %d: send: %v", i, err)
		}
		if err := websocket.Message.Receive(c, &got); err != nil {
			t.Fatalf("message %d: receive: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(msg), msg)
		}
	}

	for path, want := range map[string]int{"/off": 403, "/ws": 101} {
		if got := wsHandshake(t, port, path); got != want {
			t.Errorf("WebSocket handshake on %s: got %d, want %d", path, got, want)
		}
	}
}

// wsHandshake sends a WebSocket opening handshake for path and returns
// the response's status.
func wsHandshake(t *testing.T, port int, path string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: ws\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://ws\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the handshake's answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
