package l7

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// testParker is shared by every test proxy, so the parking paths run in
// all tests.
var testParker *Parker

func TestMain(m *testing.M) {
	p, err := NewParker()
	if err != nil {
		panic(err)
	}
	testParker = p
	code := m.Run()
	p.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// proxy is an l7 server on a loopback listener in front of backends.
type proxy struct {
	addr   string
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
	state  *cluster.Registry
	// clusters are the proxy's clusters by name, for their stats.
	clusters map[string]*cluster.Cluster
}

// startProxy serves the route config rc, whose clusters are named in
// backends (cluster name -> backend URLs' host:port). Each opt edits the
// listener's configuration first.
func startProxy(t testing.TB, rc *spec.RouteConfig, backends map[string][]string, opts ...func(*Config)) *proxy {
	t.Helper()
	reg := cluster.NewRegistry()
	clusters := map[string]*cluster.Cluster{}
	for name, addrs := range backends {
		c := &cluster.Cluster{Name: name, ConnectTimeout: time.Second, Stats: &cluster.Stats{}}
		for _, a := range addrs {
			c.Endpoints = append(c.Endpoints, &cluster.Endpoint{State: reg.Get(a, nil), Weight: 1})
		}
		c.Picker = balancer.Build(&spec.Cluster{}, c.Endpoints)
		clusters[name] = c
	}
	table, err := route.Compile(rc, func(n string) *cluster.Cluster { return clusters[n] })
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Config: forward.Config{Listener: "test", Routes: table, StreamIdle: 5 * time.Second, Stats: &Stats{}}}
	for _, opt := range opts {
		opt(cfg)
	}
	srv := NewServer(cfg, slog.New(slog.DiscardHandler), testParker)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proxy{addr: ln.Addr().String(), ln: ln, cancel: cancel, done: make(chan struct{}), state: reg, clusters: clusters}
	go func() {
		defer close(p.done)
		var conns []chan struct{}
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			d := make(chan struct{})
			conns = append(conns, d)
			go func() { defer close(d); srv.ServeConn(ctx, c) }()
		}
		for _, d := range conns {
			<-d
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) stop() {
	p.ln.Close()
	p.cancel()
	<-p.done
	p.state.Close()
}

func prefixRoutes(routes ...spec.Route) *spec.RouteConfig {
	return &spec.RouteConfig{Name: "rc", VirtualHosts: []spec.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: routes}}}
}

func toCluster(prefix, cluster string) spec.Route {
	return spec.Route{Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: prefix, CaseSensitive: true},
		Action: &spec.RouteAction{Cluster: cluster, Timeout: 5 * time.Second}}
}

func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s %s xff=%s body=%s", name, r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"), body)
	}))
	t.Cleanup(s.Close)
	return s
}

func hostOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestRoundRobinAndRouting(t *testing.T) {
	a, b, api := backend(t, "a"), backend(t, "b"), backend(t, "api")
	p := startProxy(t, prefixRoutes(toCluster("/api/", "api"), toCluster("/", "web")),
		map[string][]string{"web": {hostOf(a), hostOf(b)}, "api": {hostOf(api)}})
	c := newClient()
	defer c.CloseIdleConnections()
	seen := map[string]int{}
	for range 10 {
		code, body := get(t, c, "http://"+p.addr+"/x?q=1")
		if code != 200 {
			t.Fatalf("status %d body %q", code, body)
		}
		seen[strings.Fields(body)[0]]++
		if !strings.Contains(body, "GET /x?q=1 xff=127.0.0.1") {
			t.Errorf("body = %q, want path, query and X-Forwarded-For", body)
		}
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Errorf("round robin split = %v, want 5/5", seen)
	}
	if _, body := get(t, c, "http://"+p.addr+"/api/v1"); !strings.HasPrefix(body, "api GET /api/v1") {
		t.Errorf("api route body = %q", body)
	}
}

func TestPostBodies(t *testing.T) {
	a := backend(t, "a")
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(a)}})
	c := newClient()
	defer c.CloseIdleConnections()
	big := strings.Repeat("x", 100_000)
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"content-length", strings.NewReader("hello")},
		{"large", strings.NewReader(big)},
		{"chunked", io.MultiReader(strings.NewReader("chunk"), strings.NewReader("ed"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Post("http://"+p.addr+"/p", "text/plain", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "POST /p") {
				t.Errorf("got %d %q", resp.StatusCode, b)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	p := startProxy(t, prefixRoutes(toCluster("/dead", "dead"), toCluster("/none", "empty"), toCluster("/missing", "nosuch")),
		map[string][]string{"dead": {deadAddr}, "empty": nil})
	tests := []struct {
		name, req string
		want      string
	}{
		{"no route", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 "},
		{"connect failure", "GET /dead HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 502 "},
		{"no endpoints", "GET /none HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 503 "},
		{"unknown cluster", "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 503 "},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
		{"cl and te", "POST /dead HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 400 "},
		{"two lengths", "POST /dead HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "HTTP/1.1 400 "},
		{"bad te", "POST /dead HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 "},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", "HTTP/1.1 400 "},
		{"obs fold", "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "HTTP/1.1 400 "},
		{"bare lf", "GET / HTTP/1.1\nHost: x\n\n", "HTTP/1.1 400 "},
		{"bad version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 "},
		{"huge head", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", "HTTP/1.1 431 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, p.addr, tc.req)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("response = %q, want prefix %q", firstLine(got), tc.want)
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// rawExchange sends req on a new connection and returns the first response.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go c.Write([]byte(req))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("HTTP/1.1 %s\r\n\r\n%s", resp.Status, b)
}
