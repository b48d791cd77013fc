package l4

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs a TCP proxy to handler-backed upstreams; it returns the
// proxy address.
func serve(t *testing.T, idle time.Duration, upstream func(net.Conn)) string {
	t.Helper()
	up := loopback.Listen(t)
	loopback.Serve(t, up, func(_ context.Context, c net.Conn) { upstream(c) })
	reg := cluster.NewRegistry()
	cl := &cluster.Cluster{Name: "up", ConnectTimeout: time.Second, Stats: &cluster.Stats{},
		Endpoints: []*cluster.Endpoint{{State: reg.Get(up.Addr().String(), nil), Weight: 1}}}
	cl.Picker = balancer.Build(&spec.Cluster{}, cl.Endpoints)
	srv := NewServer(NewConfig("tcp", []Target{{Name: "up", Cluster: cl}}, nil, idle, &Stats{}), slog.New(slog.DiscardHandler))
	return loopback.Start(t, srv.ServeConn)
}

func echo(c net.Conn) { io.Copy(c, c) }

func TestRelayEchoes(t *testing.T) {
	for _, idle := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprint("idle=", idle), func(t *testing.T) {
			c, err := net.Dial("tcp", serve(t, idle, echo))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rd := bufio.NewReader(c)
			for i := range 100 {
				fmt.Fprintf(c, "line %d\n", i)
				if got, _ := rd.ReadString('\n'); got != fmt.Sprintf("line %d\n", i) {
					t.Fatalf("echo %d = %q", i, got)
				}
			}
			c.(*net.TCPConn).CloseWrite()
			if _, err := rd.ReadByte(); err != io.EOF {
				t.Errorf("after half-close: %v, want EOF passed through", err)
			}
		})
	}
}

func TestIdleTimeoutClosesQuietConnection(t *testing.T) {
	const idle = 200 * time.Millisecond
	c, err := net.Dial("tcp", serve(t, idle, echo))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on a quiet connection: %v, want EOF from the idle timeout", err)
	}
	if took := time.Since(start); took < idle {
		t.Errorf("closed after %v, before the idle timeout %v", took, idle)
	}
}

func TestIdleTimeoutSparesOneWayTraffic(t *testing.T) {
	const idle = 200 * time.Millisecond
	// The upstream pushes a line every idle/3 while the client stays silent.
	push := func(c net.Conn) {
		for i := 0; i < 15; i++ {
			if _, err := fmt.Fprintf(c, "tick %d\n", i); err != nil {
				return
			}
			time.Sleep(idle / 3)
		}
	}
	c, err := net.Dial("tcp", serve(t, idle, push))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	for i := range 15 {
		if got, err := rd.ReadString('\n'); got != fmt.Sprintf("tick %d\n", i) {
			t.Fatalf("tick %d: %q, %v: the connection was cut while the upstream was sending", i, got, err)
		}
	}
}
