package listener

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// handOff closes nothing on return: it hands the connection to its test,
// as the HTTP server hands idle connections to its parker.
type handOff chan net.Conn

func (h handOff) ServeConn(_ context.Context, c net.Conn) {
	io.WriteString(c, "hi")
	h <- c
}

// At the connection bound the listener stops accepting; closing a
// connection, even after its handler returned, lets the next one in.
func TestConnLimit(t *testing.T) {
	m := NewManager(slog.New(slog.DiscardHandler))
	defer m.Close(time.Second)
	m.SetConnLimit(1)
	addr := freeAddr(t)
	h := make(handOff, 2)
	if err := m.Reconcile([]Spec{{Name: "a", Address: addr, Handler: h}}); err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	first := <-h
	second := dial() // completes in the kernel's backlog, not accepted
	second.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := second.Read(make([]byte, 2)); n != 0 {
		t.Fatal("a connection over the bound was served")
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(io.LimitReader(second, 2)); string(b) != "hi" {
		t.Fatalf("after a close: %q %v, want the next connection served", b, err)
	}
	(<-h).Close()
}
