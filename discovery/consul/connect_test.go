package consul

import (
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// TestPolicyFromSelf checks the default intention decision as Consul
// makes it: connect.default_intention_policy, else the ACL default policy
// when ACLs are on, else allow.
func TestPolicyFromSelf(t *testing.T) {
	self := func(dc map[string]any) map[string]map[string]any {
		return map[string]map[string]any{"DebugConfig": dc}
	}
	acl := func(on bool, policy string) map[string]any {
		return map[string]any{"ConnectEnabled": true, "ACLsEnabled": on,
			"ACLResolverSettings": map[string]any{"ACLDefaultPolicy": policy}}
	}
	withDefault := func(m map[string]any, p string) map[string]any { m["DefaultIntentionPolicy"] = p; return m }
	tests := []struct {
		name string
		self map[string]map[string]any
		want agentPolicy
	}{
		{"no ACLs", self(acl(false, "deny")), agentPolicy{connect: true, defaultAllow: true}},
		{"ACL default allow", self(acl(true, "allow")), agentPolicy{connect: true, defaultAllow: true}},
		{"ACL default deny", self(acl(true, "deny")), agentPolicy{connect: true, defaultAllow: false}},
		{"intention policy deny wins", self(withDefault(acl(false, "allow"), "deny")), agentPolicy{connect: true}},
		{"intention policy allow wins", self(withDefault(acl(true, "deny"), "allow")), agentPolicy{connect: true, defaultAllow: true}},
		{"no Connect", self(map[string]any{}), agentPolicy{defaultAllow: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policyFromSelf(tt.self); got != tt.want {
				t.Errorf("policyFromSelf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestIntentions maps service-intentions entries: L4 actions, L7
// permissions with paths, methods and headers, and skips what cannot be
// enforced (peers, JWT requirements).
func TestIntentions(t *testing.T) {
	entries := []api.ConfigEntry{
		&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api", Sources: []*api.SourceIntention{
			{Name: "web", Action: api.IntentionActionDeny, Precedence: 9},
			{Name: "*", Permissions: []*api.IntentionPermission{
				{Action: api.IntentionActionDeny, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/admin"}},
				{Action: api.IntentionActionAllow, JWT: &api.IntentionJWTRequirement{}},
				{Action: api.IntentionActionAllow, HTTP: &api.IntentionHTTPPermission{PathRegex: "/v[0-9]+",
					Methods: []string{"GET"}, Header: []api.IntentionHTTPHeaderPermission{{Name: "x-team", Exact: "core"}}}},
			}},
			{Name: "peered", Peer: "other", Action: api.IntentionActionAllow},
		}},
		&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "api"},
	}
	want := []discovery.Intention{
		{Source: "web", Destination: "api", Action: discovery.ActionDeny, Precedence: 9},
		{Source: "*", Destination: "api", Permissions: []discovery.Permission{
			{Action: discovery.ActionDeny, PathPrefix: "/admin"},
			{Action: discovery.ActionAllow, PathRegex: "/v[0-9]+", Methods: []string{"GET"},
				Headers: []discovery.HeaderMatch{{Name: "x-team", Exact: "core"}}},
		}},
	}
	if diff := cmp.Diff(want, intentions(entries, slog.New(slog.DiscardHandler))); diff != "" {
		t.Errorf("intentions (-want +got):\n%s", diff)
	}
}

// TestBuildMeshedService shows that in a mesh with a trust domain a
// service with an instance behind a connect-proxy is reached over mTLS
// through its proxied instances only, as Consul's upstream clusters; a
// service without proxies stays plaintext.
func TestBuildMeshedService(t *testing.T) {
	health := map[key][]*api.ServiceEntry{
		{name: "web"}:               {instance("web", "web1", "", 9001, api.HealthPassing), instance("web", "web2", "10.0.0.2", 9002, api.HealthPassing)},
		{name: "web-sidecar-proxy"}: {proxyEntry("web1-sidecar-proxy", 21000, nil)},
		{name: "db"}:                {instance("db", "db1", "10.0.0.5", 5432, api.HealthPassing)},
	}
	b := newBuilder(health, nil, discovery.HealthHealthy, slog.New(slog.DiscardHandler))
	b.mesh = discovery.Mesh{TrustDomain: "example.consul"}
	cat, err := b.catalog()
	if err != nil {
		t.Fatal(err)
	}
	web, _ := cat.Service("web")
	if web.Identity != "web" || len(web.Endpoints) != 1 || web.Endpoints[0].Port != 21000 {
		t.Errorf("web = identity %q endpoints %+v, want web through its proxy on 21000 only", web.Identity, web.Endpoints)
	}
	if db, _ := cat.Service("db"); db.Identity != "" || len(db.Endpoints) != 1 {
		t.Errorf("db = identity %q endpoints %+v, want plaintext, its instance", db.Identity, db.Endpoints)
	}
	if !cat.Mesh().Enabled() {
		t.Error("catalog without the mesh")
	}
	if !cat.Mesh().NoPanicMode {
		t.Error("Consul catalog with panic mode on, want off as Consul's xDS (healthy_panic_threshold {})")
	}
}
