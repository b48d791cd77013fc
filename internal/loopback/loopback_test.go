package loopback

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEcho(t *testing.T) {
	c, err := net.Dial("tcp", Echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ping" {
		t.Fatalf("echo = %q, %v; want %q", got, err, "ping")
	}
}

// TestCleanupJoinsHandlers: a handler blocked on a client that never
// closes is released and joined at cleanup, with ctx cancelled.
func TestCleanupJoinsHandlers(t *testing.T) {
	returned := make(chan error, 1)
	var c net.Conn
	t.Run("serve", func(t *testing.T) {
		started := make(chan struct{})
		addr := Start(t, func(ctx context.Context, c net.Conn) {
			close(started)
			_, err := c.Read(make([]byte, 1))
			<-ctx.Done()
			returned <- err
		})
		var err error
		if c, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("handler not started")
		}
	})
	defer c.Close()
	select {
	case err := <-returned:
		if err == nil {
			t.Error("handler's read succeeded; want the error of a closed conn")
		}
	default:
		t.Fatal("cleanup returned before the handler")
	}
}
