package listener

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// greeter writes its name and closes, or waits for ctx when hold is set.
type greeter struct {
	name string
	hold bool
}

func (g greeter) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	io.WriteString(c, g.name)
	if g.hold {
		<-ctx.Done()
	}
}

func greeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestReconcile(t *testing.T) {
	m := NewManager(slog.New(slog.DiscardHandler))
	defer m.Close(time.Second)
	a, b := freeAddr(t), freeAddr(t)
	if err := m.Reconcile([]Spec{{Name: "a", Address: a, Handler: greeter{name: "one"}}}); err != nil {
		t.Fatal(err)
	}
	before := m.Addresses()["a"]
	if got := greeting(t, a); got != "one" {
		t.Fatalf("greeting = %q", got)
	}
	// Same address under a new name and handler: the socket is kept.
	if err := m.Reconcile([]Spec{{Name: "renamed", Address: a, Handler: greeter{name: "two"}}, {Name: "b", Address: b, Handler: greeter{name: "b"}}}); err != nil {
		t.Fatal(err)
	}
	if got := greeting(t, a); got != "two" {
		t.Errorf("after swap = %q, want two", got)
	}
	if got := m.Addresses()["renamed"]; got.String() != before.String() {
		t.Errorf("socket address changed: %v -> %v", before, got)
	}
	if got := greeting(t, b); got != "b" {
		t.Errorf("new listener = %q", got)
	}
	// A bind failure changes nothing.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = m.Reconcile([]Spec{{Name: "x", Address: busy.Addr().String(), Handler: greeter{name: "x"}}})
	if err == nil || !strings.Contains(err.Error(), `listener "x": binding`) {
		t.Fatalf("Reconcile with a busy port = %v", err)
	}
	if got := greeting(t, b); got != "b" {
		t.Errorf("after failed reconcile = %q, want b still served", got)
	}
}

func TestDrainAndClose(t *testing.T) {
	m := NewManager(slog.New(slog.DiscardHandler))
	a := freeAddr(t)
	if err := m.Reconcile([]Spec{{Name: "a", Address: a, Handler: greeter{name: "held", hold: true}}}); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if err := m.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", a); err == nil {
		t.Error("removed listener still accepts")
	}
	// The drained handler saw ctx done and closed its connection.
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("held connection after drain: %v, want EOF", err)
	}
	m.Close(time.Second)
}
