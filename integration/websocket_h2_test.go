package integration

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/h2ws"
)

// dialH2WebSocket opens a WebSocket over HTTP/2 on path; the server must
// advertise SETTINGS_ENABLE_CONNECT_PROTOCOL.
func dialH2WebSocket(t *testing.T, port int, path string) (string, *h2ws.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	res, ws, err := h2ws.Dial(c, path)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConnectProtocol {
		t.Fatal("the sidecar does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	return res.Status, ws
}

// TestWebSocketOverH2: WebSocket over HTTP/2 (RFC 8441 extended CONNECT,
// HCM http2_protocol_options.allow_connect) through a real sidecar to a
// real WebSocket server (golang.org/x/net/websocket) over an HTTP/1.1
// upgrade: a hand-written HTTP/2 client (internal/h2ws) sees
// ENABLE_CONNECT_PROTOCOL, gets 200 and 2,000 messages echoed through the
// stream's DATA frames; a route whose upgrade_configs disable websocket
// answers 403.
func TestWebSocketOverH2(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := wsEchoBackend(t)
	adminPort, port := freePort(t), freePort(t)
	cfg := wsBootstrap(t, adminPort, port, be, "          http2_protocol_options: { allow_connect: true }\n")
	start(t, "sidecar", "sidecar", "--config", cfg)
	waitReady(t, adminPort)
	status, ws := dialH2WebSocket(t, port, "/ws")
	if status != "200" {
		t.Fatalf("extended CONNECT: :status %s, want 200", status)
	}
	for i := range 2000 {
		msg := fmt.Appendf(bytes.Repeat([]byte{byte('a' + i%26)}, 1+i%512), "#%d", i)
		if err := ws.Send(msg); err != nil {
			t.Fatalf("message %d: send: %v", i, err)
		}
		got, err := ws.Receive()
		if err != nil {
			t.Fatalf("message %d: receive: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(msg), msg)
		}
	}
	ws.CloseSend()
	if status, _ := dialH2WebSocket(t, port, "/off"); status != "403" {
		t.Errorf("extended CONNECT on /off: :status %s, want 403", status)
	}
}
