package admin

import (
	"bufio"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// TestTCPProxyStatPrefix: a connection through a tcp_proxy is counted in
// /stats under the filter's stat_prefix (tcp.<stat_prefix>.*).
func TestTCPProxyStatPrefix(t *testing.T) {
	be, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := be.Accept()
		if err != nil {
			return
		}
		c.Write([]byte("hi\n"))
		c.Close()
	}()
	defer func() { be.Close(); <-served }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	set := &config.Set{
		Listeners: []config.Listener{{Name: "tcp", Address: addr, FilterChains: []config.FilterChain{{TCP: &config.TCPProxy{StatPrefix: "edge_in", Cluster: "be", IdleTimeout: time.Hour}}}}},
		Clusters: []config.Cluster{{Name: "be", LBPolicy: "round_robin", ConnectTimeout: time.Second,
			Static: &config.LoadAssignment{ClusterName: "be", Endpoints: []config.Endpoint{{Address: be.Addr().String(), Weight: 1}}}}},
	}
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || got != "hi\n" {
		t.Fatalf("relayed %q, %v; want hi", got, err)
	}
	_, body := get(t, Handler(sc), "/stats")
	if want := "tcp.edge_in.downstream_cx_total: 1"; !strings.Contains(body, want) {
		t.Errorf("/stats lacks %q:\n%s", want, body)
	}
}
