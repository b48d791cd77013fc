package cluster

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// fullBacklog returns the address of a loopback listener that never
// accepts and whose accept queue is full, so the kernel drops further
// SYNs and a dial to it hangs until its deadline.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel kept accepting connections into a backlog of 0")
	return ""
}

// TestDialConnectTimeout: a dial to an endpoint that does not answer
// fails at the cluster's connect_timeout and counts as a connect failure.
func TestDialConnectTimeout(t *testing.T) {
	addr := fullBacklog(t)
	r := NewRegistry()
	defer r.Close()
	st := &Stats{}
	c := &Cluster{Stats: st, ConnectTimeout: 300 * time.Millisecond}
	ep := &Endpoint{State: r.Get(addr, nil)}
	start := time.Now()
	conn, err := c.Dial(ep, time.Time{})
	took := time.Since(start)
	if err == nil {
		conn.Close()
		t.Fatal("dial to a full backlog succeeded")
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("dial failed after %v (%v), want about the 300ms connect timeout", took, err)
	}
	if st.CxConnectFail.Load() != 1 || ep.ConnectFailures.Load() != 1 {
		t.Errorf("connect_fail %d, endpoint failures %d, want 1, 1", st.CxConnectFail.Load(), ep.ConnectFailures.Load())
	}
}
