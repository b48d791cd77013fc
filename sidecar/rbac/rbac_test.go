package rbac

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"testing"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

const (
	webID = "spiffe://mesh.local/ns/default/dc/dc1/svc/web"
	dbID  = "spiffe://mesh.local/ns/default/dc/dc1/svc/db"
)

// consulWeb is the principal Consul emits for an intention from web.
var consulWeb = spec.Principal{Kind: spec.PrinAuthenticated, Name: &spec.StringMatch{Kind: spec.MatchRegex,
	Value: `^spiffe://[^/]+/ns/default/dc/[^/]+/svc/web$`}}

// peerConn returns a connection from 10.1.2.3 to 10.0.0.1:8443 whose
// client presented a certificate for spiffeID ("" for plaintext).
func peerConn(t testing.TB, spiffeID string) *stream.Conn {
	t.Helper()
	c := &stream.Conn{Local: netip.MustParseAddrPort("10.0.0.1:8443"),
		Remote: netip.MustParseAddrPort("10.1.2.3:50000"), DirectRemote: netip.MustParseAddrPort("10.1.2.3:50000")}
	if spiffeID != "" {
		pair := transporttest.NewCA(t, "mesh").Leaf(t, spiffeID, "web.mesh.local")
		cert, err := x509.ParseCertificate(pair.TLS(t).Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		c.TLS = stream.NewTLS(&tls.ConnectionState{ServerName: "api", PeerCertificates: []*x509.Certificate{cert}}, nil)
	}
	return c
}

func request(method, path string, headers ...string) *route.Request {
	r := &route.Request{Method: []byte(method), Path: []byte(path), Host: []byte("api")}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, route.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func anyPolicy(name string, prins ...spec.Principal) spec.RBACPolicy {
	return spec.RBACPolicy{Name: name, Permissions: []spec.Permission{{Kind: spec.PermAny}}, Principals: prins}
}

func mustCompile(t testing.TB, r *spec.RBACRules) *Engine {
	t.Helper()
	e, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEmptyRules: Envoy's semantics for rules without policies.
func TestEmptyRules(t *testing.T) {
	in := &Input{Conn: peerConn(t, webID), Request: request("GET", "/")}
	for _, tc := range []struct {
		name   string
		action spec.RBACAction
		want   bool
	}{
		{"ALLOW without policies denies all", spec.RBACAllow, false},
		{"DENY without policies allows all", spec.RBACDeny, true},
		{"LOG without policies allows all", spec.RBACLog, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustCompile(t, &spec.RBACRules{Action: tc.action}).Allowed(in); got != tc.want {
				t.Errorf("Allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPrincipals: who a policy matches, under ALLOW.
func TestPrincipals(t *testing.T) {
	web, db, plain := peerConn(t, webID), peerConn(t, dbID), peerConn(t, "")
	cidr := func(k spec.PrincipalKind, s string) spec.Principal {
		return spec.Principal{Kind: k, CIDR: netip.MustParsePrefix(s)}
	}
	exact := func(s string) spec.Principal {
		return spec.Principal{Kind: spec.PrinAuthenticated, Name: &spec.StringMatch{Kind: spec.MatchExact, Value: s}}
	}
	for _, tc := range []struct {
		name string
		prin spec.Principal
		conn *stream.Conn
		req  *route.Request
		want bool
	}{
		{"any", spec.Principal{Kind: spec.PrinAny}, plain, nil, true},
		{"regex SPIFFE web", consulWeb, web, nil, true},
		{"regex SPIFFE db", consulWeb, db, nil, false},
		{"regex SPIFFE plaintext", consulWeb, plain, nil, false},
		{"exact SPIFFE", exact(webID), web, nil, true},
		{"exact SPIFFE other", exact(webID), db, nil, false},
		{"prefix SPIFFE", spec.Principal{Kind: spec.PrinAuthenticated, Name: &spec.StringMatch{Kind: spec.MatchPrefix, Value: "spiffe://mesh.local/"}}, db, nil, true},
		{"DNS SAN", exact("web.mesh.local"), web, nil, true},
		{"subject", exact("CN=leaf"), web, nil, true},
		{"authenticated without name: any TLS peer", spec.Principal{Kind: spec.PrinAuthenticated}, web, nil, true},
		{"authenticated without name: plaintext", spec.Principal{Kind: spec.PrinAuthenticated}, plain, nil, false},
		{"no connection", exact(webID), nil, nil, false},
		{"source_ip in", cidr(spec.PrinSourceIP, "10.1.0.0/16"), plain, nil, true},
		{"source_ip out", cidr(spec.PrinSourceIP, "10.2.0.0/16"), plain, nil, false},
		{"direct_remote_ip", cidr(spec.PrinDirectRemoteIP, "10.1.2.3/32"), plain, nil, true},
		{"remote_ip", cidr(spec.PrinRemoteIP, "0.0.0.0/0"), plain, nil, true},
		{"remote_ip v6", cidr(spec.PrinRemoteIP, "::/0"), plain, nil, false},
		{"header", spec.Principal{Kind: spec.PrinHeader, Header: spec.HeaderMatch{Name: "x-user", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "ann"}}}, plain, request("GET", "/", "X-User", "ann"), true},
		{"header on network", spec.Principal{Kind: spec.PrinHeader, Header: spec.HeaderMatch{Name: "x-user", Match: spec.StringMatch{Kind: spec.MatchPresent}}}, plain, nil, false},
		{"url_path", spec.Principal{Kind: spec.PrinURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/a"}}, plain, request("GET", "/a/b"), true},
		{"and_ids", spec.Principal{Kind: spec.PrinAnd, IDs: []spec.Principal{consulWeb, cidr(spec.PrinSourceIP, "10.0.0.0/8")}}, web, nil, true},
		{"and_ids one fails", spec.Principal{Kind: spec.PrinAnd, IDs: []spec.Principal{consulWeb, cidr(spec.PrinSourceIP, "11.0.0.0/8")}}, web, nil, false},
		{"or_ids", spec.Principal{Kind: spec.PrinOr, IDs: []spec.Principal{exact(dbID), consulWeb}}, web, nil, true},
		{"not_id", spec.Principal{Kind: spec.PrinNot, IDs: []spec.Principal{consulWeb}}, db, nil, true},
		{"not_id matching", spec.Principal{Kind: spec.PrinNot, IDs: []spec.Principal{consulWeb}}, web, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustCompile(t, &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{anyPolicy("p", tc.prin)}})
			if got := e.Allowed(&Input{Conn: tc.conn, Request: tc.req}); got != tc.want {
				t.Errorf("Allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPermissions: what a policy matches, under DENY for any principal.
func TestPermissions(t *testing.T) {
	conn := peerConn(t, webID)
	hdr := func(name string, m spec.StringMatch, invert bool) spec.Permission {
		return spec.Permission{Kind: spec.PermHeader, Header: spec.HeaderMatch{Name: name, Match: m, Invert: invert}}
	}
	methods := hdr(":method", spec.StringMatch{Kind: spec.MatchRegex, Value: "GET|HEAD"}, false)
	admin := spec.Permission{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/admin"}}
	for _, tc := range []struct {
		name string
		perm spec.Permission
		req  *route.Request
		want bool // matched: denied
	}{
		{"any", spec.Permission{Kind: spec.PermAny}, nil, true},
		{":method regex", methods, request("GET", "/"), true},
		{":method regex is anchored", methods, request("GETX", "/"), false},
		{":path prefix", hdr(":path", spec.StringMatch{Kind: spec.MatchPrefix, Value: "/adm"}, false), request("GET", "/admin"), true},
		{":authority exact", hdr(":authority", spec.StringMatch{Kind: spec.MatchExact, Value: "api"}, false), request("GET", "/"), true},
		{"suffix", hdr("x-a", spec.StringMatch{Kind: spec.MatchSuffix, Value: "ZZ", IgnoreCase: true}, false), request("GET", "/", "x-a", "abzz"), true},
		{"contains", hdr("x-a", spec.StringMatch{Kind: spec.MatchContains, Value: "bz"}, false), request("GET", "/", "x-a", "abzz"), true},
		{"contains not", hdr("x-a", spec.StringMatch{Kind: spec.MatchContains, Value: "q"}, false), request("GET", "/", "x-a", "abzz"), false},
		{"present", hdr("x-a", spec.StringMatch{Kind: spec.MatchPresent}, false), request("GET", "/", "x-a", ""), true},
		{"absent (present_match false)", hdr("x-a", spec.StringMatch{Kind: spec.MatchPresent}, true), request("GET", "/"), true},
		{"invert_match", hdr("x-a", spec.StringMatch{Kind: spec.MatchExact, Value: "1"}, true), request("GET", "/", "x-a", "1"), false},
		{"header on network", hdr(":method", spec.StringMatch{Kind: spec.MatchPresent}, false), nil, false},
		{"url_path prefix", admin, request("GET", "/admin/x"), true},
		{"url_path other", admin, request("GET", "/"), false},
		{"url_path exact", spec.Permission{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchExact, Value: "/a"}}, request("GET", "/a"), true},
		{"url_path on network", admin, nil, false},
		{"destination_ip", spec.Permission{Kind: spec.PermDestinationIP, CIDR: netip.MustParsePrefix("10.0.0.0/24")}, nil, true},
		{"destination_port", spec.Permission{Kind: spec.PermDestinationPort, Port: 8443}, nil, true},
		{"destination_port other", spec.Permission{Kind: spec.PermDestinationPort, Port: 80}, nil, false},
		{"destination_port_range", spec.Permission{Kind: spec.PermDestinationPortRange, Port: 8000, PortEnd: 9000}, nil, true},
		{"requested_server_name", spec.Permission{Kind: spec.PermServerName, Match: spec.StringMatch{Kind: spec.MatchExact, Value: "api"}}, nil, true},
		{"and_rules", spec.Permission{Kind: spec.PermAnd, Rules: []spec.Permission{admin, methods}}, request("GET", "/admin"), true},
		{"and_rules one fails", spec.Permission{Kind: spec.PermAnd, Rules: []spec.Permission{admin, methods}}, request("POST", "/admin"), false},
		{"or_rules", spec.Permission{Kind: spec.PermOr, Rules: []spec.Permission{admin, methods}}, request("POST", "/admin"), true},
		{"not_rule", spec.Permission{Kind: spec.PermNot, Rules: []spec.Permission{admin}}, request("GET", "/"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustCompile(t, &spec.RBACRules{Action: spec.RBACDeny, Policies: []spec.RBACPolicy{{Name: "p",
				Permissions: []spec.Permission{tc.perm}, Principals: []spec.Principal{{Kind: spec.PrinAny}}}}})
			if got := !e.Allowed(&Input{Conn: conn, Request: tc.req}); got != tc.want {
				t.Errorf("matched = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMatchOrder: the first policy by name order is the one reported.
func TestMatchOrder(t *testing.T) {
	e := mustCompile(t, &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{
		anyPolicy("a-web", consulWeb), anyPolicy("b-any", spec.Principal{Kind: spec.PrinAny})}})
	for _, tc := range []struct{ id, want string }{{webID, "a-web"}, {dbID, "b-any"}} {
		if got, _ := e.Match(&Input{Conn: peerConn(t, tc.id)}); got != tc.want {
			t.Errorf("%s: matched %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	bad := spec.StringMatch{Kind: spec.MatchRegex, Value: "("}
	for _, tc := range []struct {
		name string
		p    spec.RBACPolicy
		want string
	}{
		{"principal regex", anyPolicy("p", spec.Principal{Kind: spec.PrinAuthenticated, Name: &bad}),
			"policy \"p\": principals[0]: regex \"(\": error parsing regexp: missing closing ): `^(?:()$`"},
		{"permission regex", spec.RBACPolicy{Name: "q", Permissions: []spec.Permission{{Kind: spec.PermAnd, Rules: []spec.Permission{{Kind: spec.PermURLPath, Match: bad}}}}},
			"policy \"q\": permissions[0]: rules[0]: regex \"(\": error parsing regexp: missing closing ): `^(?:()$`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(&spec.RBACRules{Policies: []spec.RBACPolicy{tc.p}})
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
