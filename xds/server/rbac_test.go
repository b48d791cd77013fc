package server

import (
	"testing"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	httprbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	netrbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/meshlb/meshlb/discovery"
)

const td = "example.consul"

func principal(name string) *rbacv3.Principal {
	return spiffePrincipal(&discovery.Mesh{TrustDomain: td, Namespace: "default"}, name)
}

func policy(perm *rbacv3.Permission, p *rbacv3.Principal) *rbacv3.Policy {
	return &rbacv3.Policy{Permissions: []*rbacv3.Permission{perm}, Principals: []*rbacv3.Principal{p}}
}

func notID(p *rbacv3.Principal) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: p}}
}

func notRule(p *rbacv3.Permission) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: p}}
}

func prefix(p string) *rbacv3.Permission {
	return permissionMustMatch(discovery.Permission{PathPrefix: p})
}

func permissionMustMatch(p discovery.Permission) *rbacv3.Permission {
	m, err := permissionMatch(p)
	if err != nil {
		panic(err)
	}
	return m
}

// rbacCatalog is meshCatalog (api http, web tcp, both with sidecars)
// with intentions and a default.
func rbacCatalog(t *testing.T, defaultAllow bool, ins ...discovery.Intention) *discovery.Catalog {
	t.Helper()
	base := meshCatalog(t, nil)
	cat, err := discovery.NewMesh(base.Services(), discovery.Mesh{TrustDomain: td, DefaultAllow: defaultAllow, Intentions: ins})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// inboundRBAC returns the RBAC rules on node's public listener: the
// network filter's for TCP, the HTTP filter's for HTTP; nil for none.
func inboundRBAC(t *testing.T, cat *discovery.Catalog, node string) *rbacv3.RBAC {
	t.Helper()
	snap, err := Translate(cat, node)
	if err != nil {
		t.Fatal(err)
	}
	l := snap.GetResources(resource.ListenerType)[InboundListener].(*listener.Listener)
	fs := l.FilterChains[0].Filters
	if fs[0].Name == wellknown.RoleBasedAccessControl {
		var r netrbac.RBAC
		if err := fs[0].GetTypedConfig().UnmarshalTo(&r); err != nil {
			t.Fatal(err)
		}
		if len(fs) != 2 || r.StatPrefix != rbacStatPrefix {
			t.Fatalf("network RBAC: %d filters, stat prefix %q", len(fs), r.StatPrefix)
		}
		return r.Rules
	}
	if fs[0].Name != "envoy.filters.network.http_connection_manager" {
		return nil
	}
	var m hcm.HttpConnectionManager
	if err := fs[0].GetTypedConfig().UnmarshalTo(&m); err != nil {
		t.Fatal(err)
	}
	if m.HttpFilters[0].Name != wellknown.HTTPRoleBasedAccessControl {
		return nil
	}
	var r httprbac.RBAC
	if err := m.HttpFilters[0].GetTypedConfig().UnmarshalTo(&r); err != nil {
		t.Fatal(err)
	}
	if last := m.HttpFilters[len(m.HttpFilters)-1].Name; last != "envoy.filters.http.router" {
		t.Fatalf("last HTTP filter %q, want the router", last)
	}
	return r.Rules
}

// TestIntentionsRBAC checks the RBAC rules generated from intentions, as
// Consul: the default picks the action (allow: DENY the denied; deny:
// ALLOW the allowed), precedence carves higher sources out of a wildcard,
// and L7 permissions apply first match first, unmatched denied.
func TestIntentionsRBAC(t *testing.T) {
	allowWeb := discovery.Intention{Source: "web", Destination: "api", Action: discovery.ActionAllow}
	denyAll := discovery.Intention{Source: "*", Destination: "api", Action: discovery.ActionDeny}
	tests := []struct {
		name         string
		node         string
		defaultAllow bool
		ins          []discovery.Intention
		want         *rbacv3.RBAC
	}{
		{name: "default allow, no intentions: no filter", node: "api", defaultAllow: true},
		{name: "default deny, no intentions: deny all", node: "web",
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{}}},
		{name: "tcp deny web", node: "web", defaultAllow: true,
			ins: []discovery.Intention{{Source: "api", Destination: "web", Action: discovery.ActionDeny}},
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_DENY, Policies: map[string]*rbacv3.Policy{
				"consul-intentions-0": policy(anyPermission, principal("api"))}}},
		{name: "tcp default deny, allow api", node: "web",
			ins: []discovery.Intention{{Source: "api", Destination: "web", Action: discovery.ActionAllow}},
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
				"consul-intentions-0": policy(anyPermission, principal("api"))}}},
		{name: "wildcard deny under an exact allow", node: "api", defaultAllow: true,
			ins: []discovery.Intention{denyAll, allowWeb},
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_DENY, Policies: map[string]*rbacv3.Policy{
				"consul-intentions-1": policy(anyPermission, andIDs(principal("*"), notID(principal("web"))))}}},
		{name: "wildcard destination loses to exact", node: "api",
			ins: []discovery.Intention{{Source: "web", Destination: "*", Action: discovery.ActionDeny}, allowWeb},
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
				"consul-intentions-0": policy(anyPermission, principal("web"))}}},
		{name: "L7 deny /admin, allow the rest, default deny", node: "api",
			ins: []discovery.Intention{{Source: "web", Destination: "api", Permissions: []discovery.Permission{
				{Action: discovery.ActionDeny, PathPrefix: "/admin"}, {Action: discovery.ActionAllow}}}},
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
				"consul-intentions-0": policy(andRules(anyPermission, notRule(prefix("/admin"))), principal("web"))}}},
		{name: "L7 allow GET /v1, default allow denies the rest", node: "api", defaultAllow: true,
			ins: []discovery.Intention{{Source: "web", Destination: "api", Permissions: []discovery.Permission{
				{Action: discovery.ActionAllow, PathPrefix: "/v1", Methods: []string{"GET"}}}}},
			want: &rbacv3.RBAC{Action: rbacv3.RBAC_DENY, Policies: map[string]*rbacv3.Policy{
				"consul-intentions-0": policy(notRule(permissionMustMatch(discovery.Permission{PathPrefix: "/v1", Methods: []string{"GET"}})),
					principal("web"))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inboundRBAC(t, rbacCatalog(t, tt.defaultAllow, tt.ins...), tt.node)
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("RBAC (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSpiffePrincipal checks the principal regex Consul emits.
func TestSpiffePrincipal(t *testing.T) {
	got := principal("web").GetAuthenticated().GetPrincipalName().GetSafeRegex().GetRegex()
	if want := `^spiffe://example\.consul/ns/default/dc/[^/]+/svc/web$`; got != want {
		t.Errorf("regex = %s, want %s", got, want)
	}
}

// TestServerRBACDefault shows the Server enforces intentions by default
// (a mesh is secure by default) and leaves them out when told not to.
func TestServerRBACDefault(t *testing.T) {
	cat := rbacCatalog(t, false)
	for _, tc := range []struct {
		name     string
		set      func(*Server)
		wantRBAC bool
	}{
		{"default", func(*Server) {}, true},
		{"off", func(s *Server) { s.EnforceIntentions(false) }, false},
		{"on", func(s *Server) { s.EnforceIntentions(true) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(nil)
			tc.set(srv)
			if err := srv.Update(t.Context(), cat); err != nil {
				t.Fatal(err)
			}
			snap, err := srv.Cache().GetSnapshot("web")
			if err != nil {
				t.Fatal(err)
			}
			l := snap.GetResources(resource.ListenerType)[InboundListener].(*listener.Listener)
			if got := l.FilterChains[0].Filters[0].Name == wellknown.RoleBasedAccessControl; got != tc.wantRBAC {
				t.Errorf("network RBAC filter first: %v, want %v", got, tc.wantRBAC)
			}
		})
	}
}
