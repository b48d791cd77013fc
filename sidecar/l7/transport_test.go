package l7

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// sourceTransport dials from its own loopback source address, so that a
// backend can tell which transport made a connection.
type sourceTransport struct{ ip string }

func (s sourceTransport) Key() string { return "raw|src=" + s.ip }

func (s sourceTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(s.ip)}}
	return d.DialContext(ctx, "tcp", addr)
}

var _ cluster.Transport = sourceTransport{}

// TestTransportKeyedPools sends interleaved keep-alive requests to two
// clusters whose transports to the same address have different keys: each
// request must arrive on a connection of its own cluster's transport, and
// each transport's connection is reused.
func TestTransportKeyedPools(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	}))
	t.Cleanup(be.Close)
	reg := cluster.NewRegistry()
	t.Cleanup(reg.Close)
	clusters := map[string]*cluster.Cluster{}
	for name, ip := range map[string]string{"a": "127.0.0.2", "b": "127.0.0.3"} {
		tr := sourceTransport{ip}
		c := &cluster.Cluster{Name: name, Transport: tr, Stats: &cluster.Stats{},
			Endpoints: []*cluster.Endpoint{{State: reg.Get(hostOf(be), tr), Weight: 1}}}
		c.Picker = balancer.Build(&spec.Cluster{}, c.Endpoints)
		clusters[name] = c
	}
	table, err := route.Compile(prefixRoutes(toCluster("/a", "a"), toCluster("/b", "b")),
		func(n string) *cluster.Cluster { return clusters[n] })
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, prefixRoutes(), nil, func(c *Config) { c.Routes = table })
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	got := map[string]map[string]int{"a": {}, "b": {}}
	for i := range 10 {
		name := [2]string{"a", "b"}[i%2]
		_, body := get(t, c, "http://"+p.addr+"/"+name)
		got[name][body]++
	}
	want := map[string]map[string]int{"a": {"127.0.0.2": 5}, "b": {"127.0.0.3": 5}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("source of each cluster's requests (-want +got):\n%s", diff)
	}
	a, b := clusters["a"], clusters["b"]
	if a.Endpoints[0].State == b.Endpoints[0].State {
		t.Errorf("both transports share one endpoint state")
	}
	gotCx := fmt.Sprint(a.Stats.CxTotal.Load(), b.Stats.CxTotal.Load(), a.Stats.CxActive.Load(), b.Stats.CxActive.Load())
	if gotCx != "1 1 1 1" {
		t.Errorf("upstream_cx_total a, b and upstream_cx_active a, b = %s, want 1 1 1 1 (one pooled connection each)", gotCx)
	}
}
