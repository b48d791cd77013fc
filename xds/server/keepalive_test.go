package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/meshlb/meshlb/xds/client"
)

// HTTP/2 frame types and the GOAWAY error code the tests read (RFC 9113).
const (
	frameSettings   = 0x4
	framePing       = 0x6
	frameGoAway     = 0x7
	enhanceYourCalm = 0xb
)

// serveRaw runs Serve with opts on a loopback port and returns a raw TCP
// connection to it that has sent the HTTP/2 preface and its SETTINGS. The
// connection never acknowledges anything, as a peer that hung.
func serveRaw(t *testing.T, opts ...grpc.ServerOption) net.Conn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, lis, New(slog.New(slog.DiscardHandler)), opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(frameSettings, nil)...)); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	return conn
}

// frame encodes an HTTP/2 frame on stream 0 with no flags.
func frame(typ byte, payload []byte) []byte {
	h := make([]byte, 9, 9+len(payload))
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3] = typ
	return append(h, payload...)
}

// readFrame reads one frame's type and payload.
func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	p := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
	_, err := io.ReadFull(r, p)
	return h[3], p, err
}

// TestServeDropsDeadPeer checks that the server closes a connection whose
// peer stops answering its keepalive pings (shortened here from 30s+10s).
func TestServeDropsDeadPeer(t *testing.T) {
	conn := serveRaw(t, grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}))
	start := time.Now()
	r := bufio.NewReader(conn)
	pinged := false
	for {
		typ, _, err := readFrame(r)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v", time.Since(start))
			}
			break // closed
		}
		pinged = pinged || typ == framePing
	}
	if !pinged {
		t.Error("the server closed the connection without pinging first")
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("closed after %v, want about Time+Timeout = 2s", d)
	}
}

// TestServeEnforcesPingPolicy checks that a client pinging more often than
// the policy allows is sent GOAWAY ENHANCE_YOUR_CALM ("too_many_pings"),
// and that the sidecar's keepalive interval is within the policy.
func TestServeEnforcesPingPolicy(t *testing.T) {
	if client.DefaultKeepaliveTime < minClientPing {
		t.Fatalf("the sidecar pings every %v, under the server's minimum %v", client.DefaultKeepaliveTime, minClientPing)
	}
	conn := serveRaw(t)
	for i := range 4 {
		if _, err := conn.Write(frame(framePing, binary.BigEndian.AppendUint64(nil, uint64(i)))); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(conn)
	for {
		typ, p, err := readFrame(r)
		if err != nil {
			t.Fatalf("no GOAWAY before %v", err)
		}
		if typ == frameGoAway {
			if code := binary.BigEndian.Uint32(p[4:8]); code != enhanceYourCalm {
				t.Errorf("GOAWAY error code %#x, want ENHANCE_YOUR_CALM", code)
			}
			return
		}
	}
}
