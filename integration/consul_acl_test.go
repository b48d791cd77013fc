package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// withACLs enables Consul ACLs with default deny and "root" as the
// management (and agent) token, which the test's own client uses.
func withACLs(cfg map[string]any) {
	cfg["acl"] = map[string]any{"enabled": true, "default_policy": "deny",
		"tokens": map[string]any{"initial_management": "root", "agent": "root"}}
}

// readToken creates a policy that reads services and nodes, and a token
// with it: what the control server and -sidecar-for need.
func (a *consulAgent) readToken() string {
	a.t.Helper()
	p, _, err := a.client.ACL().PolicyCreate(&api.ACLPolicy{Name: "meshlb-read",
		Rules: `service_prefix "" { policy = "read" }` + "\n" + `node_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		a.t.Fatalf("creating policy: %v", err)
	}
	tok, _, err := a.client.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		a.t.Fatalf("creating token: %v", err)
	}
	return tok.SecretID
}

// With ACLs on (default deny), the control server and the sidecar's
// -sidecar-for lookup use the token in CONSUL_HTTP_TOKEN.
func TestConsulACLToken(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t, withACLs)
	t.Setenv("CONSUL_HTTP_TOKEN", a.readToken()) // inherited by the meshlb processes
	wa := startBackend(t, "a")
	m := startConsulMesh(t, a, wa)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	eventually(t, "traffic to a with a read-only ACL token", func() bool { return seenAll(c, m.webURL(), wa) })
}

// tokenWith creates a policy with rules and a token with it.
func (a *consulAgent) tokenWith(rules string) string {
	a.t.Helper()
	p, _, err := a.client.ACL().PolicyCreate(&api.ACLPolicy{Name: fmt.Sprintf("meshlb-%d", len(rules)), Rules: rules}, nil)
	if err != nil {
		a.t.Fatalf("creating policy: %v", err)
	}
	tok, _, err := a.client.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		a.t.Fatalf("creating token: %v", err)
	}
	return tok.SecretID
}
