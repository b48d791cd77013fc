package h2up

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/l7"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// h2cBackend is a real HTTP/2 server with prior knowledge (h2c) on
// loopback, counting its connections opened and closed.
type h2cBackend struct {
	*httptest.Server
	conns  atomic.Int32 // opened
	closed atomic.Int32
}

func startH2C(t testing.TB, maxStreams int, h http.HandlerFunc) *h2cBackend {
	t.Helper()
	b := &h2cBackend{Server: httptest.NewUnstartedServer(h)}
	b.Config.Protocols = new(http.Protocols)
	b.Config.Protocols.SetUnencryptedHTTP2(true)
	b.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			b.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			b.closed.Add(1)
		}
	}
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func (b *h2cBackend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// sidecar is an HTTP/1 listener (sidecar/l7) whose one route goes to an
// HTTP/2 cluster through this codec.
type sidecar struct {
	addr    string
	cluster *cluster.Cluster
	reg     *cluster.Registry
	mu      sync.Mutex
	infos   []stream.Info
}

// startSidecar serves route rt (its cluster is "be") in front of addrs
// with cluster options opts.
func startSidecar(t testing.TB, rt spec.Route, hp spec.UpstreamHTTP, idle time.Duration, addrs ...string) *sidecar {
	t.Helper()
	return startSidecarTransport(t, rt, hp, idle, nil, addrs...)
}

// startSidecarTransport is [startSidecar] with the cluster's transport tr
// (nil: plaintext).
func startSidecarTransport(t testing.TB, rt spec.Route, hp spec.UpstreamHTTP, idle time.Duration, tr cluster.Transport, addrs ...string) *sidecar {
	t.Helper()
	if hp.Protocol == spec.UpstreamHTTP1 {
		hp.Protocol = spec.UpstreamHTTP2
	}
	s := &sidecar{reg: cluster.NewRegistry()}
	c := &cluster.Cluster{Name: "be", ConnectTimeout: time.Second, Stats: &cluster.Stats{}, HTTP: hp, IdleTimeout: idle}
	for _, a := range addrs {
		c.Endpoints = append(c.Endpoints, &cluster.Endpoint{State: s.reg.Get(a, tr), Weight: 1})
	}
	c.Picker = balancer.Build(&spec.Cluster{}, c.Endpoints)
	s.cluster = c
	rt.Action.Cluster = "be"
	rc := &spec.RouteConfig{Name: "rc", VirtualHosts: []spec.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []spec.Route{rt}}}}
	table, err := route.Compile(rc, func(string) *cluster.Cluster { return c })
	if err != nil {
		t.Fatal(err)
	}
	cfg := &l7.Config{Config: forward.Config{Listener: "test", Routes: table, StreamIdle: 5 * time.Second,
		Stats: &forward.Stats{}, Mux: Opener(l7.NewExchange), Upstream: l7.NewExchange, StreamDone: s.record}}
	srv := l7.NewServer(cfg, slog.New(slog.DiscardHandler), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { srv.ServeConn(ctx, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		cancel()
		wg.Wait()
		s.reg.Close()
		waitFor(t, "upstream connections closed", func() bool { return c.Stats.CxActive.Load() == 0 })
	})
	return s
}

func (s *sidecar) record(i *stream.Info) {
	s.mu.Lock()
	s.infos = append(s.infos, *i)
	s.mu.Unlock()
}

// info waits for the stream info of the nth request answered (from 1).
func (s *sidecar) info(t testing.TB, n int) stream.Info {
	t.Helper()
	var i stream.Info
	waitFor(t, "the request's stream info", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.infos) < n {
			return false
		}
		i = s.infos[n-1]
		return true
	})
	return i
}

// prefixRoute is a route for every path with a timeout.
func prefixRoute(timeout time.Duration) spec.Route {
	return spec.Route{Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/", CaseSensitive: true},
		Action: &spec.RouteAction{Timeout: timeout}}
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// h1Client is an HTTP/1.1 client with keep-alive.
func h1Client() *http.Client {
	return &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
}
