package h2

import (
	"bytes"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/websocket"

	"github.com/meshlb/meshlb/internal/h2ws"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// dialWebSocket opens a WebSocket over HTTP/2 (RFC 8441) and returns the
// response's :status and the tunnel.
func dialWebSocket(t *testing.T, addr, path string) (string, *h2ws.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	res, ws, err := h2ws.Dial(c, path)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConnectProtocol {
		t.Fatal("SETTINGS_ENABLE_CONNECT_PROTOCOL not advertised with allow_connect")
	}
	return res.Status, ws
}

// Extended CONNECT (RFC 8441) with allow_connect: a WebSocket over an
// HTTP/2 stream reaches a real WebSocket server (golang.org/x/net/websocket)
// as an HTTP/1.1 upgrade, and messages come back through the stream's
// DATA frames; a route whose upgrade_configs disable websocket refuses it
// 403, as over HTTP/1.1.
func TestExtendedConnectWebSocket(t *testing.T) {
	be := httptest.NewServer(websocket.Handler(func(c *websocket.Conn) {
		var msg []byte
		for websocket.Message.Receive(c, &msg) == nil {
			if websocket.Message.Send(c, msg) != nil {
				return
			}
		}
	}))
	defer be.Close()
	off := toCluster("/off", "be")
	off.Action.Upgrades = []spec.Upgrade{{Type: "websocket"}}
	p := startProxy(t, routes(off, toCluster("/", "be")), map[string][]string{"be": {strings.TrimPrefix(be.URL, "http://")}},
		func(c *Config) {
			c.HTTP2.AllowConnect = true
			c.Upgrades = []spec.Upgrade{{Type: "websocket", Enabled: true}}
		})
	status, ws := dialWebSocket(t, p.addr, "/ws")
	if status != "200" {
		t.Fatalf(":status %s, want 200", status)
	}
	for i := range 200 {
		msg := fmt.Appendf(bytes.Repeat([]byte{byte('a' + i%26)}, i*3), "#%d", i)
		if err := ws.Send(msg); err != nil {
			t.Fatal(err)
		}
		got, err := ws.Receive()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d: got %.20q, want %.20q", i, got, msg)
		}
	}
	ws.CloseSend()
	if status, _ := dialWebSocket(t, p.addr, "/off"); status != "403" {
		t.Errorf("/off: :status %s, want 403", status)
	}
}

// Without allow_connect, :protocol is a malformed request (RFC 8441 3).
func TestExtendedConnectNotAllowed(t *testing.T) {
	p := startProxy(t, routes(toCluster("/", "be")), map[string][]string{"be": nil})
	rc, sf := dialRaw(t, p.addr)
	if _, ok := sf.Value(http2.SettingEnableConnectProtocol); ok {
		t.Error("SETTINGS_ENABLE_CONNECT_PROTOCOL advertised without allow_connect")
	}
	rc.request(1, "CONNECT", "/ws", false, ":protocol", "websocket")
	rst, err := until[*http2.RSTStreamFrame](rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rst.ErrCode != http2.ErrCodeProtocol {
		t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", rst.ErrCode)
	}
}
