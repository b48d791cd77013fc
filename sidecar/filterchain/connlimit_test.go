package filterchain

import (
	"net"
	"testing"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestConnectionLimitDisabled: runtime_enabled false admits every
// connection; an update with the same stat prefix keeps the count of
// open connections, and closing a connection twice releases its place
// once.
func TestConnectionLimitDisabled(t *testing.T) {
	b := Get(spec.ConnectionLimitType)
	if b == nil {
		t.Fatal("connection limit is not registered")
	}
	counter, stats := counters()
	off, err := b.Build(&spec.ConnectionLimit{StatPrefix: "in", MaxConnections: 1, Disabled: true}, Env{Counter: counter})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if off.OnNewConnection(nil) != Continue {
			t.Fatal("a disabled limit refused a connection")
		}
	}
	on, err := b.Build(&spec.ConnectionLimit{StatPrefix: "in", MaxConnections: 1}, Env{Counter: counter})
	if err != nil {
		t.Fatal(err)
	}
	a, peer := net.Pipe()
	defer peer.Close()
	if on.OnNewConnection(a) != Continue {
		t.Fatal("the first connection was refused")
	}
	tracked := on.(Tracker).Track(a)
	next, err := b.Build(&spec.ConnectionLimit{StatPrefix: "in", MaxConnections: 1}, Env{Counter: counter, Prev: on})
	if err != nil {
		t.Fatal(err)
	}
	if next.OnNewConnection(nil) != Close {
		t.Error("after an update, a second connection was admitted over max_connections 1")
	}
	tracked.Close()
	tracked.Close()
	if next.OnNewConnection(nil) != Continue {
		t.Error("after the close, a connection was refused")
	}
	if next.OnNewConnection(nil) != Close {
		t.Error("a double close released two places")
	}
	if n := stats["connection_limit.in.limited_connections"].Load(); n != 2 {
		t.Errorf("limited_connections = %d, want 2", n)
	}
}
