//go:build linux

package l7

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// parkedServer serves the next connection to the returned address with
// a fast-parking parker; cancel drains it.
func parkedServer(t *testing.T, idle time.Duration) (p *Parker, addr string, cancel context.CancelFunc) {
	t.Helper()
	be := backend(t, "a")
	p, err := NewParker()
	if err != nil {
		t.Fatal(err)
	}
	p.After = 30 * time.Millisecond
	reg := cluster.NewRegistry()
	cl := &cluster.Cluster{Name: "web", ConnectTimeout: time.Second, Stats: &cluster.Stats{},
		Endpoints: []*cluster.Endpoint{{State: reg.Get(hostOf(be), nil), Weight: 1}}}
	cl.Picker = balancer.Build(&spec.Cluster{}, cl.Endpoints)
	table, err := route.Compile(prefixRoutes(toCluster("/", "web")), func(string) *cluster.Cluster { return cl })
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(&Config{Config: forward.Config{Routes: table, StreamIdle: idle, Stats: &Stats{}}}, slog.New(slog.DiscardHandler), p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if c, err := ln.Accept(); err == nil {
			srv.ServeConn(ctx, c)
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); p.Close(); reg.Close() })
	return p, ln.Addr().String(), cancel
}

func (p *Parker) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func request(t *testing.T, c net.Conn, rd *bufio.Reader) string {
	t.Helper()
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestParkedConnectionResumes(t *testing.T) {
	p, addr, _ := parkedServer(t, time.Minute)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	if got := request(t, c, rd); got[:1] != "a" {
		t.Fatalf("first response %q", got)
	}
	waitFor(t, "the idle connection to be parked", func() bool { return p.count() == 1 })
	for i := range 3 {
		if got := request(t, c, rd); got[:1] != "a" {
			t.Fatalf("response %d after parking: %q", i, got)
		}
		waitFor(t, "the connection to be parked again", func() bool { return p.count() == 1 })
	}
}

func TestParkedConnectionIdleTimeout(t *testing.T) {
	p, addr, _ := parkedServer(t, 100*time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	request(t, c, rd)
	waitFor(t, "the parked connection to be closed after the idle timeout", func() bool { return p.count() == 0 })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := rd.ReadByte(); err != io.EOF {
		t.Errorf("read after idle timeout: %v, want EOF", err)
	}
}

func TestDrainClosesParkedConnection(t *testing.T) {
	p, addr, drain := parkedServer(t, time.Minute)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	request(t, c, rd)
	waitFor(t, "the idle connection to be parked", func() bool { return p.count() == 1 })
	drain()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := rd.ReadByte(); err != io.EOF {
		t.Errorf("read after drain: %v, want EOF", err)
	}
	if n := p.count(); n != 0 {
		t.Errorf("%d connections still parked after drain", n)
	}
}

// With no stream idle timeout (stream_idle_timeout 0s) a quiet keep-alive
// connection is parked and stays parked: neither the wait before parking
// nor the parker's sweep closes it.
func TestParkedConnectionNoIdleTimeout(t *testing.T) {
	p, addr, _ := parkedServer(t, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	request(t, c, rd)
	waitFor(t, "the idle connection to be parked", func() bool { return p.count() == 1 })
	p.sweep()
	if n := p.count(); n != 1 {
		t.Fatalf("%d connections parked after a sweep, want 1", n)
	}
	if got := request(t, c, rd); got[:1] != "a" {
		t.Fatalf("response after the sweep: %q", got)
	}
}
