package sidecar

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// reflector answers "name host path" for each request.
func reflector(t *testing.T, name string) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", name, r.Host, r.URL.RequestURI())
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// TestRouteRewritesRedirectAndGRPC shows through sockets the effect of
// RouteAction prefix_rewrite and host_rewrite_literal, Route redirect and
// RouteMatch grpc, as docs/xds-support.md describes them.
func TestRouteRewritesRedirectAndGRPC(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	l := httpListener("web", addr, "a")
	pfx := func(p string) config.RouteMatch {
		return config.RouteMatch{Kind: config.PathPrefix, Path: p, CaseSensitive: true}
	}
	l.FilterChains[0].HTTP.Routes.VirtualHosts[0].Routes = []config.Route{
		{Match: pfx("/api/"), Action: &config.RouteAction{Cluster: "a", PrefixRewrite: "/v2/"}},
		{Match: pfx("/host"), Action: &config.RouteAction{Cluster: "a", HostRewrite: "rewritten.example"}},
		{Match: pfx("/old"), Redirect: &config.Redirect{Status: 301, Host: "new.example", Path: "/moved"}},
		{Match: config.RouteMatch{Kind: config.PathPrefix, Path: "/", CaseSensitive: true, GRPC: true}, Action: &config.RouteAction{Cluster: "b"}},
		{Match: pfx("/"), Action: &config.RouteAction{Cluster: "a"}},
	}
	set := &config.Set{Listeners: []config.Listener{l},
		Clusters: []config.Cluster{staticCluster("a", reflector(t, "a")), staticCluster("b", reflector(t, "b"))}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	tests := []struct {
		name, path, contentType string
		wantCode                int
		wantBody, wantLocation  string
	}{
		{"prefix_rewrite", "/api/x?q=1", "", 200, "a " + addr + " /v2/x?q=1", ""},
		{"host_rewrite_literal", "/host", "", 200, "a rewritten.example /host", ""},
		{"redirect", "/old?q=1", "", 301, "", "http://new.example/moved?q=1"},
		{"grpc", "/svc.Echo/Say", "application/grpc", 200, "b " + addr + " /svc.Echo/Say", ""},
		{"not grpc", "/svc.Echo/Say", "application/json", 200, "a " + addr + " /svc.Echo/Say", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+addr+tt.path, nil)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode || (tt.wantBody != "" && string(b) != tt.wantBody) {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, b, tt.wantCode, tt.wantBody)
			}
			if loc := resp.Header.Get("Location"); loc != tt.wantLocation {
				t.Errorf("Location = %q, want %q", loc, tt.wantLocation)
			}
		})
	}
}

// TestTCPProxyWeightedClusters shows tcp_proxy weighted_clusters: new
// connections are spread over the named clusters (Cluster is ignored).
func TestTCPProxyWeightedClusters(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	l := tcpListener("tcp", addr, "unused")
	l.FilterChains[0].TCP.Weighted = []config.WeightedCluster{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}
	set := &config.Set{Listeners: []config.Listener{l},
		Clusters: []config.Cluster{staticCluster("a", echoServer(t, "a")), staticCluster("b", echoServer(t, "b"))}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range 40 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		greeting, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			t.Fatalf("reading greeting: %v", err)
		}
		seen[strings.TrimSpace(greeting)]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || len(seen) != 2 {
		t.Errorf("greetings %v over 40 connections, want both a and b only", seen)
	}
}
