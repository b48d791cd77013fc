package sidecar

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSidecar(t *testing.T) *Sidecar {
	t.Helper()
	s := New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { s.Close(time.Second) })
	return s
}

// freeAddr returns a loopback address nothing listens on. Its IP is
// picked at random in 127.0.0.0/8, so that between the probe here and the
// sidecar's bind, no other test's probe and no outgoing connection (whose
// ephemeral ports are on 127.0.0.1) can take the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ip := net.IPv4(127, byte(1+rand.IntN(254)), byte(rand.IntN(256)), byte(1+rand.IntN(254)))
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func named(t *testing.T, name string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// echoServer greets each connection with name, then echoes.
func echoServer(t *testing.T, name string) string {
	t.Helper()
	return loopback.Start(t, func(_ context.Context, c net.Conn) {
		fmt.Fprintf(c, "%s\n", name)
		io.Copy(c, c)
	})
}

func staticCluster(name string, addrs ...string) config.Cluster {
	la := &config.LoadAssignment{ClusterName: name}
	for _, a := range addrs {
		la.Endpoints = append(la.Endpoints, config.Endpoint{Address: a, Weight: 1})
	}
	return config.Cluster{Name: name, Type: config.DiscoveryStatic, LBPolicy: "round_robin", ConnectTimeout: time.Second, Static: la}
}

func httpListener(name, addr, cluster string) config.Listener {
	return config.Listener{Name: name, Address: addr, FilterChains: []config.FilterChain{{HTTP: &config.HTTPManager{StatPrefix: name, Routes: &config.RouteConfig{
		Name: name, VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []config.Route{{
			Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/", CaseSensitive: true}, Action: &config.RouteAction{Cluster: cluster}}}}},
	}}}}}
}

func tcpListener(name, addr, cluster string) config.Listener {
	return config.Listener{Name: name, Address: addr, FilterChains: []config.FilterChain{{TCP: &config.TCPProxy{StatPrefix: name, Cluster: cluster, IdleTimeout: time.Hour}}}}
}

func body(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestUpdateKeepsConnections(t *testing.T) {
	s := newSidecar(t)
	httpAddr, tcpAddr := freeAddr(t), freeAddr(t)
	a, b := named(t, "a"), named(t, "b")
	ea, eb := echoServer(t, "echo-a"), echoServer(t, "echo-b")
	set := func(web []string, echo string) *config.Set {
		return &config.Set{
			Listeners: []config.Listener{httpListener("http", httpAddr, "web"), tcpListener("tcp", tcpAddr, "echo")},
			Clusters:  []config.Cluster{staticCluster("web", web...), staticCluster("echo", echo)},
		}
	}
	if err := s.Apply(set([]string{a}, ea)); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if got := body(t, c, "http://"+httpAddr+"/"); got != "a" {
		t.Fatalf("before update: %q", got)
	}
	tc, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	rd := bufio.NewReader(tc)
	if line, _ := rd.ReadString('\n'); line != "echo-a\n" {
		t.Fatalf("tcp greeting %q", line)
	}
	if err := s.Apply(set([]string{b}, eb)); err != nil {
		t.Fatal(err)
	}
	// The keep-alive HTTP connection sees the new endpoint on its next request.
	if got := body(t, c, "http://"+httpAddr+"/"); got != "b" {
		t.Errorf("after update: %q, want b", got)
	}
	// The TCP connection accepted before the update still relays to echo-a.
	fmt.Fprintf(tc, "ping\n")
	if line, _ := rd.ReadString('\n'); line != "ping\n" {
		t.Errorf("long-lived tcp connection after update: %q", line)
	}
	tc2, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc2.Close()
	if line, _ := bufio.NewReader(tc2).ReadString('\n'); line != "echo-b\n" {
		t.Errorf("new tcp connection greeting %q, want echo-b", line)
	}
}

func TestApplyErrorKeepsRunningConfig(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	a := named(t, "a")
	good := &config.Set{Listeners: []config.Listener{httpListener("http", addr, "web")}, Clusters: []config.Cluster{staticCluster("web", a)}}
	if err := s.Apply(good); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		set  *config.Set
		want string
	}{
		{"port in use", &config.Set{
			Listeners: []config.Listener{httpListener("http", addr, "web"), httpListener("other", busy.Addr().String(), "web")},
			Clusters:  []config.Cluster{staticCluster("web", a)},
		}, `listener "other": binding ` + busy.Addr().String()},
		{"missing rds", &config.Set{
			Listeners: []config.Listener{{Name: "rds", Address: addr, FilterChains: []config.FilterChain{{HTTP: &config.HTTPManager{RDSName: "nope"}}}}},
		}, `listener "rds": rds.route_config_name: route configuration "nope" has not been received`},
		{"duplicate address", &config.Set{
			Listeners: []config.Listener{tcpListener("x", "127.0.0.1:1", "web"), tcpListener("y", "127.0.0.1:1", "web")},
		}, `listener "y": address 127.0.0.1:1 is used by listener "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Apply(tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply() error = %v, want it to contain %q", err, tc.want)
			}
			c := &http.Client{Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			if got := body(t, c, "http://"+addr+"/"); got != "a" {
				t.Errorf("after failed Apply: %q, want the old config serving", got)
			}
		})
	}
}

func TestRemovedListenerDrains(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	ea := echoServer(t, "echo-a")
	if err := s.Apply(&config.Set{Listeners: []config.Listener{tcpListener("tcp", addr, "echo")}, Clusters: []config.Cluster{staticCluster("echo", ea)}}); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	rd.ReadString('\n')
	if err := s.Apply(&config.Set{}); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("removed listener still accepts")
	}
	fmt.Fprintf(c, "still here\n")
	if line, _ := rd.ReadString('\n'); line != "still here\n" {
		t.Errorf("connection of removed listener: %q, want it kept until it ends", line)
	}
}
