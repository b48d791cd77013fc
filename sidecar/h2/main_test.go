package h2

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/l7"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// proxy is an HTTP/2 server on a loopback listener in front of HTTP/1
// backends, served with the listener's drain context.
type proxy struct {
	addr  string
	srv   *Server
	drain context.CancelFunc
}

// startProxy serves rc, whose clusters are named in backends (cluster
// name -> host:port list; an empty list is a cluster with no endpoint).
func startProxy(t testing.TB, rc *spec.RouteConfig, backends map[string][]string, opts ...func(*Config)) *proxy {
	t.Helper()
	reg := cluster.NewRegistry()
	t.Cleanup(reg.Close)
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
	cfg := &Config{Config: forward.Config{Listener: "test", Routes: table, StreamIdle: 5 * time.Second,
		Stats: &forward.Stats{}, Upstream: l7.NewExchange}}
	for _, opt := range opts {
		opt(cfg)
	}
	srv := NewServer(cfg, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); srv.ServeConn(ctx, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cancel()
		wg.Wait()
	})
	return &proxy{addr: ln.Addr().String(), srv: srv, drain: cancel}
}

func routes(rs ...spec.Route) *spec.RouteConfig {
	return &spec.RouteConfig{Name: "rc", VirtualHosts: []spec.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: rs}}}
}

func toCluster(prefix, cluster string) spec.Route {
	return spec.Route{Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: prefix, CaseSensitive: true},
		Action: &spec.RouteAction{Cluster: cluster, Timeout: 5 * time.Second}}
}

// echoBackend answers with what it received, and a response trailer.
func echoBackend(t testing.TB) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Resp-Trailer")
		w.Header().Set("X-Backend", "echo")
		framing := fmt.Sprint("length=", r.ContentLength)
		if len(r.TransferEncoding) > 0 {
			framing = "chunked"
		}
		fmt.Fprintf(w, "%s %s %s %s body=%s trailer=%s", r.Proto, r.Method, r.RequestURI, framing, body, r.Trailer.Get("X-Req-Trailer"))
		w.Header().Set("X-Resp-Trailer", "done")
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// h2cClient speaks HTTP/2 with prior knowledge.
func h2cClient(t testing.TB) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}
