package sidecar

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func connLimit(prefix string, max uint64) spec.NetworkFilter {
	return spec.NetworkFilter{Name: "envoy.filters.network.connection_limit", TypeURL: spec.ConnectionLimitType,
		Config: &spec.ConnectionLimit{StatPrefix: prefix, MaxConnections: max}}
}

// TestConnectionLimitTCP: Consul's max_inbound_connections (the network
// connection_limit filter): with 2 connections open, a third is closed at
// once and counted; closing one lets a new one in.
func TestConnectionLimitTCP(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	set := &config.Set{Clusters: []config.Cluster{staticCluster("echo", echoServer(t, "echo"))},
		Listeners: []config.Listener{{Name: "tcp", Address: addr, FilterChains: []config.FilterChain{
			tcpChain(spec.FilterChainMatch{}, "echo", connLimit("inbound_connection_limit", 2)),
		}}}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	held := []net.Conn{openGreeted(t, addr), openGreeted(t, addr)}
	if got := greeting(t, "", addr); got != "closed" {
		t.Errorf("third connection: got %q, want it closed", got)
	}
	if n := s.Counters()["connection_limit.inbound_connection_limit.limited_connections"]; n != 1 {
		t.Errorf("limited_connections = %d, want 1", n)
	}
	held[0].Close()
	waitFor(t, func() bool { return greeting(t, "", addr) == "echo" })
	held[1].Close()
}

// TestConnectionLimitHTTPKeepAlive: an idle keep-alive HTTP connection
// (parked without a goroutine once idle) still counts against the limit
// until the client closes it.
func TestConnectionLimitHTTPKeepAlive(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(be.Close)
	l := httpListener("in", addr, "be")
	l.FilterChains[0].Filters = []spec.NetworkFilter{connLimit("in_limit", 1)}
	set := &config.Set{Clusters: []config.Cluster{staticCluster("be", be.Listener.Addr().String())}, Listeners: []config.Listener{l}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	get := func() int {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET on the held connection: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("GET = %d", code)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	if resp, err := client.Get("http://" + addr + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("a second connection was served (%d) while one was open with max_connections 1", resp.StatusCode)
	}
	if code := get(); code != 200 {
		t.Errorf("GET on the held connection after the refusal = %d", code)
	}
	c.Close()
	waitFor(t, func() bool {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// openGreeted opens a connection to addr and reads the backend's
// greeting, so that the connection is through the filters.
func openGreeted(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "echo\n" {
		t.Fatalf("greeting: %q %v", line, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// TestExactBalanceServes: a listener with Consul's
// balance_inbound_connections = "exact_balance"
// (connection_balance_config.exact_balance) is served as any other: its
// one accept loop hands each connection to its own goroutine, which is
// the balance exact_balance asks of Envoy's workers. 50 concurrent
// connections are all served.
func TestExactBalanceServes(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	host, p, _ := net.SplitHostPort(addr)
	b, err := config.ParseBootstrap("balance.yaml", []byte(`static_resources:
  listeners:
  - name: public_listener
    address: {socket_address: {address: `+host+`, port_value: `+p+`}}
    connection_balance_config: {exact_balance: {}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: public_listener, cluster: local_app}
`))
	if err != nil {
		t.Fatal(err)
	}
	set := b.Static
	set.Clusters = append(set.Clusters, staticCluster("local_app", echoServer(t, "echo")))
	if err := s.Apply(&set); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 50)
	for range 50 {
		go func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && line != "echo\n" {
				err = fmt.Errorf("greeting %q", line)
			}
			errs <- err
		}()
	}
	for range 50 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
