package rbac

import (
	"testing"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// consulL7 is what Consul emits for an L7 intention from web: GET or HEAD
// under /api, and nothing under /api/admin.
func consulL7() *spec.RBACRules {
	get := spec.Permission{Kind: spec.PermHeader, Header: spec.HeaderMatch{Name: ":method",
		Match: spec.StringMatch{Kind: spec.MatchRegex, Value: "GET|HEAD"}}}
	api := spec.Permission{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/api"}}
	admin := spec.Permission{Kind: spec.PermURLPath, Match: spec.StringMatch{Kind: spec.MatchPrefix, Value: "/api/admin"}}
	return &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{
		{Name: "consul-intentions-layer7-0", Principals: []spec.Principal{consulWeb}, Permissions: []spec.Permission{
			{Kind: spec.PermAnd, Rules: []spec.Permission{api, get, {Kind: spec.PermNot, Rules: []spec.Permission{admin}}}}}},
	}}
}

func BenchmarkAllowedL4(b *testing.B) {
	e := mustCompile(b, &spec.RBACRules{Action: spec.RBACAllow, Policies: []spec.RBACPolicy{anyPolicy("consul-intentions-layer4", consulWeb)}})
	in := &Input{Conn: peerConn(b, webID)}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Allowed(in) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkAllowedL7(b *testing.B) {
	e := mustCompile(b, consulL7())
	in := &Input{Conn: peerConn(b, webID), Request: request("GET", "/api/users", "accept", "*/*", "user-agent", "bench")}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Allowed(in) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkDeniedL7(b *testing.B) {
	e := mustCompile(b, consulL7())
	in := &Input{Conn: peerConn(b, webID), Request: request("POST", "/api/admin/x")}
	b.ReportAllocs()
	for b.Loop() {
		if e.Allowed(in) {
			b.Fatal("allowed")
		}
	}
}
