package cluster

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/internal/loopback"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// keyed is a plaintext transport under another key, as a TLS one to the
// same address would be.
type keyed struct{ key string }

func (k keyed) Key() string { return k.key }

func (keyed) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return Plain.Dial(ctx, addr)
}

func listen(t *testing.T) string {
	t.Helper()
	return loopback.Start(t, func(context.Context, net.Conn) {})
}

func TestRegistryKeysStateByTransport(t *testing.T) {
	addr := listen(t)
	r := NewRegistry()
	defer r.Close()
	plain, other := r.Get(addr, nil), r.Get(addr, keyed{"tls|sni=x"})
	if plain == other {
		t.Fatal("two transport keys to one address share a state")
	}
	if r.Get(addr, Plain) != plain || r.Get(addr, keyed{"tls|sni=x"}) != other {
		t.Fatal("equal keys do not share a state")
	}
	c := &Cluster{Stats: &Stats{}, ConnectTimeout: time.Second}
	conn, err := c.Dial(&Endpoint{State: other}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	other.Pool.Put(conn)
	if got := plain.Pool.Get(); got != nil {
		t.Errorf("the plain pool handed out a connection of the other transport")
	}
	if got := other.Pool.Get(); got != conn {
		t.Errorf("the other transport's pool lost its connection")
	}
	conn.Close()
}

func TestDialCountsConnections(t *testing.T) {
	addr := listen(t)
	r := NewRegistry()
	defer r.Close()
	st := &Stats{}
	c := &Cluster{Stats: st, ConnectTimeout: time.Second}
	ep := &Endpoint{State: r.Get(addr, nil)}
	conn, err := c.Dial(ep, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conn.(syscall.Conn); !ok {
		t.Error("a dialed TCP connection hides its socket")
	}
	if _, ok := conn.(interface{ NetConn() net.Conn }).NetConn().(*net.TCPConn); !ok {
		t.Error("NetConn is not the TCP connection")
	}
	if st.CxActive.Load() != 1 || st.CxTotal.Load() != 1 {
		t.Errorf("after dial: upstream_cx_active %d, upstream_cx_total %d, want 1, 1", st.CxActive.Load(), st.CxTotal.Load())
	}
	conn.Close()
	conn.Close()
	if st.CxActive.Load() != 0 {
		t.Errorf("after two closes: upstream_cx_active %d, want 0", st.CxActive.Load())
	}
	dead := &Endpoint{State: r.Get(listenClosed(t), nil)}
	if _, err := c.Dial(dead, time.Time{}); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if st.CxConnectFail.Load() != 1 || dead.ConnectFailures.Load() != 1 || st.CxActive.Load() != 0 {
		t.Errorf("after a failed dial: connect_fail %d, endpoint failures %d, active %d, want 1, 1, 0",
			st.CxConnectFail.Load(), dead.ConnectFailures.Load(), st.CxActive.Load())
	}
}

func listenClosed(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRetainForgetsUnusedStateAndRuntimes(t *testing.T) {
	r := NewRegistry()
	keep, gone := r.Get("10.0.0.1:80", nil), r.Get("10.0.0.2:80", nil)
	rt := r.Runtime("web")
	r.Runtime("old")
	r.Retain(map[string]*Cluster{"web": {Endpoints: []*Endpoint{{State: keep}}}})
	if r.Get("10.0.0.1:80", nil) != keep || r.Runtime("web") != rt {
		t.Error("Retain forgot what a cluster uses")
	}
	if r.Get("10.0.0.2:80", nil) == gone {
		t.Error("Retain kept an unused endpoint state")
	}
	if len(r.runtimes) != 1 {
		t.Errorf("runtimes after Retain: %d, want 1", len(r.runtimes))
	}
}
