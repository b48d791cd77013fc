package sidecar

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// greeting dials addr from the local IP from ("" for any) and returns the
// first line the far end sends, or "closed" if it closes first.
func greeting(t *testing.T, from, addr string) string {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
		return "closed"
	}
	if err != nil {
		t.Fatalf("reading from %s: %v", addr, err)
	}
	return line[:len(line)-1]
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}

func tcpChain(match spec.FilterChainMatch, cluster string, filters ...spec.NetworkFilter) config.FilterChain {
	return config.FilterChain{Match: match, Filters: filters,
		TCP: &config.TCPProxy{StatPrefix: cluster, Cluster: cluster, IdleTimeout: time.Hour}}
}

func rateLimit(prefix string, max uint32) spec.NetworkFilter {
	return spec.NetworkFilter{Name: "rl", TypeURL: spec.LocalRateLimitType, Config: &spec.LocalRateLimit{
		StatPrefix: prefix, Bucket: spec.TokenBucket{MaxTokens: max, TokensPerFill: 1, FillInterval: time.Hour}}}
}

func port(t *testing.T, addr string) uint16 {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Port()
}

// TestFilterChainMatch serves one listener with chains chosen by the
// source IP of real loopback connections (127.0.0.1 and 127.0.0.2) and by
// destination port, and a second listener whose only chain matches no
// connection.
func TestFilterChainMatch(t *testing.T) {
	s := newSidecar(t)
	addr, closedAddr := freeAddr(t), freeAddr(t)
	clusters := []config.Cluster{
		staticCluster("one", echoServer(t, "one")), staticCluster("two", echoServer(t, "two")),
		staticCluster("port", echoServer(t, "port")), staticCluster("default", echoServer(t, "default")),
	}
	pfx := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	set := &config.Set{Clusters: clusters, Listeners: []config.Listener{{
		Name: "multi", Address: addr, FilterChains: []config.FilterChain{
			tcpChain(spec.FilterChainMatch{SourcePrefixRanges: pfx("127.0.0.1/32")}, "one"),
			tcpChain(spec.FilterChainMatch{SourcePrefixRanges: pfx("127.0.0.0/8"), SourcePorts: []uint16{1}}, "two"),
			tcpChain(spec.FilterChainMatch{SourcePrefixRanges: pfx("127.0.0.2/32")}, "two"),
			tcpChain(spec.FilterChainMatch{DestinationPort: port(t, addr) + 1}, "port"),
		},
	}, {
		Name: "nomatch", Address: closedAddr, FilterChains: []config.FilterChain{
			tcpChain(spec.FilterChainMatch{DestinationPort: port(t, closedAddr) + 1}, "port"),
		},
	}}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	got := []string{greeting(t, "127.0.0.1", addr), greeting(t, "127.0.0.2", addr), greeting(t, "127.0.0.3", addr), greeting(t, "", closedAddr)}
	want := []string{"one", "two", "closed", "closed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("greetings (-want +got):\n%s", diff)
	}
	// Destination port first: a chain for this port wins over source IPs,
	// and the default chain takes what no chain matches.
	set.Listeners[0].FilterChains = append(set.Listeners[0].FilterChains,
		tcpChain(spec.FilterChainMatch{DestinationPort: port(t, addr), SourcePrefixRanges: pfx("127.0.0.0/30")}, "port"))
	set.Listeners[0].Default = &config.FilterChain{TCP: &config.TCPProxy{StatPrefix: "d", Cluster: "default"}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	got = []string{greeting(t, "127.0.0.1", addr), greeting(t, "127.0.0.2", addr), greeting(t, "127.0.0.5", addr)}
	want = []string{"port", "port", "default"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("greetings after update (-want +got):\n%s", diff)
	}
	counters := s.Counters()
	nm := func(a string) uint64 { return counters[listenerStat(a, "no_filter_chain_match")] }
	if nm(addr) != 1 || nm(closedAddr) != 1 {
		t.Errorf("no_filter_chain_match = %d and %d, want 1 and 1", nm(addr), nm(closedAddr))
	}
}

// TestLocalRateLimitBeforeTCPProxy: connections over the token bucket are
// closed before the TCP proxy sees them, and an unrelated update does not
// refill the bucket.
func TestLocalRateLimitBeforeTCPProxy(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	echo := echoServer(t, "echo")
	set := func(extra ...config.Cluster) *config.Set {
		return &config.Set{
			Clusters: append([]config.Cluster{staticCluster("echo", echo)}, extra...),
			Listeners: []config.Listener{{Name: "tcp", Address: addr, FilterChains: []config.FilterChain{
				tcpChain(spec.FilterChainMatch{}, "echo", rateLimit("tcp_rl", 2)),
			}}},
		}
	}
	if err := s.Apply(set()); err != nil {
		t.Fatal(err)
	}
	got := []string{greeting(t, "", addr), greeting(t, "", addr), greeting(t, "", addr)}
	if err := s.Apply(set(staticCluster("other", "127.0.0.1:9"))); err != nil {
		t.Fatal(err)
	}
	got = append(got, greeting(t, "", addr))
	if diff := cmp.Diff([]string{"echo", "echo", "closed", "closed"}, got); diff != "" {
		t.Errorf("greetings (-want +got):\n%s", diff)
	}
	if n := s.Counters()["local_ratelimit.tcp_rl.rate_limited"]; n != 2 {
		t.Errorf("local_ratelimit.tcp_rl.rate_limited = %d, want 2", n)
	}
}

// TestLocalRateLimitBeforeHTTP puts the filter in front of the HTTP
// connection manager: it limits connections, not requests.
func TestLocalRateLimitBeforeHTTP(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	l := httpListener("http", addr, "web")
	l.FilterChains[0].Filters = []spec.NetworkFilter{rateLimit("http_rl", 1)}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{l}, Clusters: []config.Cluster{staticCluster("web", named(t, "a"))}}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	for i := range 3 { // one keep-alive connection, several requests
		if got := body(t, c, "http://"+addr+"/"); got != "a" {
			t.Fatalf("request %d: %q, want a", i, got)
		}
	}
	c2 := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c2.CloseIdleConnections()
	if resp, err := c2.Get("http://" + addr + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("second connection: status %d, want it closed", resp.StatusCode)
	}
	if n := s.Counters()["local_ratelimit.http_rl.rate_limited"]; n != 1 {
		t.Errorf("local_ratelimit.http_rl.rate_limited = %d, want 1", n)
	}
}

// TestChainsKeepServers: an HTTP chain keeps its server across updates
// under the same key, so keep-alive connections see new routes; a new
// chain gets a server of its own.
func TestChainsKeepServers(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	a, b := named(t, "a"), named(t, "b")
	l := httpListener("http", addr, "web")
	l.FilterChains[0].Name = "main"
	apply := func(web string, chains ...config.FilterChain) *Listener {
		t.Helper()
		l := l
		l.FilterChains = append([]config.FilterChain{l.FilterChains[0]}, chains...)
		if err := s.Apply(&config.Set{Listeners: []config.Listener{l}, Clusters: []config.Cluster{staticCluster("web", web)}}); err != nil {
			t.Fatal(err)
		}
		return s.Snapshot().Listeners["http"]
	}
	first := apply(a)
	second := apply(b, tcpChain(spec.FilterChainMatch{SourcePorts: []uint16{1}}, "web"))
	if first.Chains[0].HTTP != second.Chains[0].HTTP {
		t.Error("the unchanged chain got a new HTTP server")
	}
	if second.Chains[1].TCP == nil {
		t.Fatal("the new chain has no TCP server")
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	if got := body(t, c, "http://"+addr+"/"); got != "b" {
		t.Errorf("got %q, want b", got)
	}
}

func TestFilterChainErrors(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	tests := []struct {
		name string
		l    config.Listener
		want string
	}{{
		name: "unregistered network filter",
		l: config.Listener{Name: "l", Address: addr, FilterChains: []config.FilterChain{
			tcpChain(spec.FilterChainMatch{}, "x", spec.NetworkFilter{TypeURL: "type.googleapis.com/x.Y"}),
			tcpChain(spec.FilterChainMatch{DestinationPort: 1}, "x"),
		}},
		want: `listener "l": filter_chains[0]: filters[0]: network filter "type.googleapis.com/x.Y" is not supported`,
	}, {
		name: "overlapping chains",
		l: config.Listener{Name: "l", Address: addr, FilterChains: []config.FilterChain{
			tcpChain(spec.FilterChainMatch{}, "x"), tcpChain(spec.FilterChainMatch{}, "y"),
		}},
		want: `listener "l": filter chains 0 and 1 have overlapping matching rules`,
	}, {
		name: "bad default chain",
		l:    config.Listener{Name: "l", Address: addr, Default: &config.FilterChain{Name: "d"}},
		want: `listener "l": default_filter_chain: no terminal network filter`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Apply(&config.Set{Listeners: []config.Listener{tt.l}})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Apply() = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestTLSInspectorRoutesBySNI passes TLS through by server name: the TLS
// inspector peeks at the ClientHello, the chain for the name relays the
// untouched handshake to its cluster, and the client completes TLS with
// that backend.
func TestTLSInspectorRoutesBySNI(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	a := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "a") }))
	defer a.Close()
	b := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "b") }))
	defer b.Close()
	set := &config.Set{
		Clusters: []config.Cluster{
			staticCluster("a", a.Listener.Addr().String()), staticCluster("b", b.Listener.Addr().String()),
			staticCluster("plain", echoServer(t, "plain")),
		},
		Listeners: []config.Listener{{Name: "sni", Address: addr, TLSInspector: &spec.TLSInspector{Timeout: 5 * time.Second},
			FilterChains: []config.FilterChain{
				tcpChain(spec.FilterChainMatch{ServerNames: []string{"a.example.com"}}, "a"),
				tcpChain(spec.FilterChainMatch{ServerNames: []string{"*.example.com"}}, "b"),
				tcpChain(spec.FilterChainMatch{TransportProtocol: "raw_buffer"}, "plain"),
			}}},
	}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	get := func(sni string) string {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true}}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		return body(t, c, "https://"+addr+"/")
	}
	got := []string{get("a.example.com"), get("x.example.com")}
	// A client that speaks first in plain text goes to the raw_buffer chain.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "hi\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	got = append(got, line)
	if diff := cmp.Diff([]string{"a", "b", "plain\n"}, got); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	counters := s.Counters()
	if found, not := counters["tls_inspector.tls_found"], counters["tls_inspector.tls_not_found"]; found != 2 || not != 1 {
		t.Errorf("tls_inspector.tls_found %d, tls_not_found %d; want 2 and 1", found, not)
	}
}

// TestChainsSharingAName: two chains with the same name are still two
// chains, each with its own server and configuration.
func TestChainsSharingAName(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	one, two := tcpChain(spec.FilterChainMatch{SourcePrefixRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, "one"),
		tcpChain(spec.FilterChainMatch{SourcePrefixRanges: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}, "two")
	one.Name, two.Name = "same", "same"
	set := &config.Set{
		Clusters:  []config.Cluster{staticCluster("one", echoServer(t, "one")), staticCluster("two", echoServer(t, "two"))},
		Listeners: []config.Listener{{Name: "l", Address: addr, FilterChains: []config.FilterChain{one, two}}},
	}
	for range 2 { // the second Apply reuses the servers of the first
		if err := s.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	got := []string{greeting(t, "127.0.0.1", addr), greeting(t, "127.0.0.2", addr)}
	if diff := cmp.Diff([]string{"one", "two"}, got); diff != "" {
		t.Errorf("greetings (-want +got):\n%s", diff)
	}
}
