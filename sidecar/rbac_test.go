package sidecar

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

const dbSPIFFE = "spiffe://mesh.local/ns/default/dc/dc1/svc/db"

// consulPrincipal is the principal Consul emits for an intention from
// the service svc.
func consulPrincipal(svc string) spec.Principal {
	return spec.Principal{Kind: spec.PrinAuthenticated, Name: &spec.StringMatch{Kind: spec.MatchRegex,
		Value: `^spiffe://[^/]+/ns/default/dc/[^/]+/svc/` + svc + `$`}}
}

// mtls returns a terminating mTLS context for api that accepts any
// client certificate ca signed: RBAC, not the SAN match, picks callers.
func mtls(t *testing.T, ca *transporttest.CA) *spec.DownstreamTLS {
	return &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{
		Certificates: certOf(ca.Leaf(t, apiSPIFFE, "api.mesh.local")),
		Validation:   &spec.Validation{TrustedCA: ca.PEM},
		MinVersion:   spec.TLS12, MaxVersion: spec.TLS13,
	}, RequireClientCert: true}
}

func networkRBAC(rules *spec.RBACRules) spec.NetworkFilter {
	return spec.NetworkFilter{Name: "rbac", TypeURL: spec.NetworkRBACType, Config: &spec.RBAC{StatPrefix: "connect_authz", Rules: rules}}
}

func allowFrom(principals ...spec.Principal) *spec.RBACRules {
	return &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{{Name: "consul-intentions-layer4",
		Permissions: []spec.Permission{{Kind: spec.PermAny}}, Principals: principals}}}
}

// tlsGreeting dials addr over TLS with cert and returns the first line
// the far end sends, or "closed" if the connection closes first.
func tlsGreeting(t *testing.T, ca *transporttest.CA, addr string, cert tls.Certificate) string {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "api.mesh.local", Certificates: []tls.Certificate{cert}})
	if err != nil {
		return "closed"
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "closed"
	}
	return strings.TrimSuffix(line, "\n")
}

// TestNetworkRBACBySPIFFE: an mTLS tcp_proxy chain whose network RBAC
// filter allows web (as Consul's L4 intention does) relays web's
// connection and closes db's before a byte of the upstream's reaches it;
// both are counted.
func TestNetworkRBACBySPIFFE(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	addr := freeAddr(t)
	in := tcpListener("in", addr, "echo")
	in.FilterChains[0].TLS = mtls(t, ca)
	in.FilterChains[0].Filters = []spec.NetworkFilter{networkRBAC(allowFrom(consulPrincipal("web")))}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("echo", echoServer(t, "echo"))},
		Listeners: []config.Listener{in}}); err != nil {
		t.Fatal(err)
	}
	got := []string{tlsGreeting(t, ca, addr, ca.Leaf(t, webSPIFFE).TLS(t)), tlsGreeting(t, ca, addr, ca.Leaf(t, dbSPIFFE).TLS(t))}
	if diff := cmp.Diff([]string{"echo", "closed"}, got); diff != "" {
		t.Errorf("web, db (-want +got):\n%s", diff)
	}
	waitCounters(t, s, map[string]uint64{"connect_authz.rbac.allowed": 1, "connect_authz.rbac.denied": 1})
	if n := s.current.Load().Listeners["in"].Chains[0].TCP.Config().Stats.CxTotal.Load(); n != 1 {
		t.Errorf("tcp_proxy saw %d connections, want 1: a denied one never reaches it", n)
	}
}

// waitCounters polls s's counters until they have the values in want.
// Counting runs on the connection's goroutine, which may still be busy
// when the client has seen the result.
func waitCounters(t *testing.T, s *Sidecar, want map[string]uint64) {
	t.Helper()
	got := map[string]uint64{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		all := s.Counters()
		for name := range want {
			got[name] = all[name]
		}
		if cmp.Equal(want, got) {
			return
		}
	}
	t.Errorf("counters (-want +got):\n%s", cmp.Diff(want, got))
}

// TestNetworkRBACShadow: shadow rules are counted under their prefix and
// never enforced.
func TestNetworkRBACShadow(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	addr := freeAddr(t)
	in := tcpListener("in", addr, "echo")
	in.FilterChains[0].TLS = mtls(t, ca)
	in.FilterChains[0].Filters = []spec.NetworkFilter{{Name: "rbac", TypeURL: spec.NetworkRBACType, Config: &spec.RBAC{
		StatPrefix: "authz", ShadowStatPrefix: "sh_", Shadow: allowFrom(consulPrincipal("web"))}}}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("echo", echoServer(t, "echo"))},
		Listeners: []config.Listener{in}}); err != nil {
		t.Fatal(err)
	}
	got := []string{tlsGreeting(t, ca, addr, ca.Leaf(t, webSPIFFE).TLS(t)), tlsGreeting(t, ca, addr, ca.Leaf(t, dbSPIFFE).TLS(t))}
	if diff := cmp.Diff([]string{"echo", "echo"}, got); diff != "" {
		t.Errorf("web, db (-want +got):\n%s", diff)
	}
	waitCounters(t, s, map[string]uint64{"authz.rbac.sh_shadow_allowed": 1, "authz.rbac.sh_shadow_denied": 1,
		"authz.rbac.allowed": 0, "authz.rbac.denied": 0})
}

// TestNetworkRBACSourceIP: a DENY rule on source_ip closes connections
// from 127.0.0.2 and relays those from 127.0.0.1, on plaintext.
func TestNetworkRBACSourceIP(t *testing.T) {
	s := newSidecar(t)
	addr := freeAddr(t)
	in := tcpListener("in", addr, "echo")
	in.FilterChains[0].Filters = []spec.NetworkFilter{networkRBAC(&spec.RBACRules{Action: spec.RBACDeny, Policies: []spec.RBACPolicy{{
		Name: "block", Permissions: []spec.Permission{{Kind: spec.PermAny}},
		Principals: []spec.Principal{{Kind: spec.PrinSourceIP, CIDR: netip.MustParsePrefix("127.0.0.2/32")}}}}})}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("echo", echoServer(t, "echo"))},
		Listeners: []config.Listener{in}}); err != nil {
		t.Fatal(err)
	}
	got := []string{greeting(t, "127.0.0.1", addr), greeting(t, "127.0.0.2", addr)}
	if diff := cmp.Diff([]string{"echo", "closed"}, got); diff != "" {
		t.Errorf("from 127.0.0.1, 127.0.0.2 (-want +got):\n%s", diff)
	}
}

// TestNetworkRBACEmptyRules: Envoy's semantics for rules without
// policies, and for no rules, through sockets.
func TestNetworkRBACEmptyRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules *spec.RBACRules
		want  string
	}{
		{"rules absent: allow all", nil, "echo"},
		{"ALLOW without policies: deny all", &spec.RBACRules{Action: spec.RBACAllow}, "closed"},
		{"DENY without policies: allow all", &spec.RBACRules{Action: spec.RBACDeny}, "echo"},
		{"LOG: allow all", &spec.RBACRules{Action: spec.RBACLog, Policies: allowFrom(spec.Principal{Kind: spec.PrinAny}).Policies}, "echo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			addr := freeAddr(t)
			in := tcpListener("in", addr, "echo")
			in.FilterChains[0].Filters = []spec.NetworkFilter{networkRBAC(tc.rules)}
			if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("echo", echoServer(t, "echo"))},
				Listeners: []config.Listener{in}}); err != nil {
				t.Fatal(err)
			}
			if got := greeting(t, "", addr); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// l7Rules allows web GET and HEAD under /api (Consul's L7 intention:
// path prefix and :method regex).
func l7Rules() *spec.RBACRules {
	return &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{{Name: "consul-intentions-layer7-0",
		Principals: []spec.Principal{consulPrincipal("web")},
		Permissions: []spec.Permission{{Kind: spec.PermAnd, Rules: []spec.Permission{
			{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/api"}},
			{Kind: spec.PermHeader, Header: spec.HeaderMatch{Name: ":method", Match: spec.StringMatch{Kind: spec.MatchRegex, Value: "GET|HEAD"}}},
		}}}}}}
}

func httpRBAC(c *spec.RBAC) spec.HTTPFilter {
	return spec.HTTPFilter{Name: "envoy.filters.http.rbac", TypeURL: spec.HTTPRBACType, Config: c}
}

// status sends method url with c and returns "<code> <body>".
func status(t *testing.T, c *http.Client, method, url string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status[:3] + " " + string(b)
}

// TestHTTPRBACPathAndMethod: over mTLS, the HTTP RBAC filter lets web GET
// under /api and answers every other request, and every request of db,
// 403 "RBAC: access denied"; shadow rules only count.
func TestHTTPRBACPathAndMethod(t *testing.T) {
	s := newSidecar(t)
	ca := transporttest.NewCA(t, "mesh")
	addr := freeAddr(t)
	in := httpListener("in", addr, "app")
	in.FilterChains[0].TLS = mtls(t, ca)
	in.FilterChains[0].HTTP.Filters = []spec.HTTPFilter{httpRBAC(&spec.RBAC{Rules: l7Rules(), StatPrefix: "l7_",
		ShadowStatPrefix: "sh_", Shadow: allowFrom(consulPrincipal("db"))})}
	if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("app", named(t, "app"))},
		Listeners: []config.Listener{in}}); err != nil {
		t.Fatal(err)
	}
	web := httpsClient(ca, "api.mesh.local", ca.Leaf(t, webSPIFFE).TLS(t))
	db := httpsClient(ca, "api.mesh.local", ca.Leaf(t, dbSPIFFE).TLS(t))
	defer web.CloseIdleConnections()
	defer db.CloseIdleConnections()
	base := "https://" + addr
	const denied = "403 RBAC: access denied"
	for _, tc := range []struct {
		name, method, path string
		c                  *http.Client
		want               string
	}{
		{"web GET /api", "GET", "/api/users", web, "200 app"},
		{"web HEAD /api", "HEAD", "/api", web, "200 "},
		{"web POST /api", "POST", "/api/users", web, denied},
		{"web GET /admin", "GET", "/admin", web, denied},
		{"db GET /api", "GET", "/api/users", db, denied},
	} {
		if got := status(t, tc.c, tc.method, base+tc.path); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	waitCounters(t, s, map[string]uint64{"http.in.rbac.l7_allowed": 2, "http.in.rbac.l7_denied": 3,
		"http.in.rbac.sh_shadow_allowed": 1, "http.in.rbac.sh_shadow_denied": 4})
}

// TestHTTPRBACSourceIP: a DENY rule on source_ip answers 403 to
// 127.0.0.2 and forwards 127.0.0.1's requests, on plaintext; a DENY rule
// without policies and no rules at all allow everything.
func TestHTTPRBACSourceIP(t *testing.T) {
	deny := &spec.RBACRules{Action: spec.RBACDeny, Policies: []spec.RBACPolicy{{Name: "block",
		Permissions: []spec.Permission{{Kind: spec.PermAny}},
		Principals:  []spec.Principal{{Kind: spec.PrinDirectRemoteIP, CIDR: netip.MustParsePrefix("127.0.0.2/32")}}}}}
	for _, tc := range []struct {
		name         string
		rules        *spec.RBACRules
		from1, from2 string
	}{
		{"deny 127.0.0.2", deny, "200 app", "403 RBAC: access denied"},
		{"ALLOW without policies", &spec.RBACRules{Action: spec.RBACAllow}, "403 RBAC: access denied", "403 RBAC: access denied"},
		{"DENY without policies", &spec.RBACRules{Action: spec.RBACDeny}, "200 app", "200 app"},
		{"rules absent", nil, "200 app", "200 app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			addr := freeAddr(t)
			in := httpListener("in", addr, "app")
			in.FilterChains[0].HTTP.Filters = []spec.HTTPFilter{httpRBAC(&spec.RBAC{Rules: tc.rules})}
			if err := s.Apply(&config.Set{Clusters: []config.Cluster{staticCluster("app", named(t, "app"))},
				Listeners: []config.Listener{in}}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, from := range []string{"127.0.0.1", "127.0.0.2"} {
				c := fromClient(from)
				got = append(got, status(t, c, "GET", "http://"+addr+"/"))
				c.CloseIdleConnections()
			}
			if diff := cmp.Diff([]string{tc.from1, tc.from2}, got); diff != "" {
				t.Errorf("from 127.0.0.1, 127.0.0.2 (-want +got):\n%s", diff)
			}
		})
	}
}

// fromClient is an HTTP client whose connections come from the local IP
// from.
func fromClient(from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 5 * time.Second}
}
