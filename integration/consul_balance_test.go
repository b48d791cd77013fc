package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// waitConfigDump waits until the /config_dump of the sidecar whose admin
// listens on adminPort holds want, so a test starts once the control
// server has sent what Consul holds.
func waitConfigDump(t *testing.T, c *http.Client, adminPort int, want string) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/config_dump", adminPort)
	eventually(t, "config_dump with "+want, func() bool {
		_, body, err := httpGet(c, url)
		return err == nil && strings.Contains(body, want)
	})
}

// A service-resolver with load_balancer ring_hash and a header hash
// policy, written to a real Consul: through meshlb's control server and
// sidecar, every request with the same x-user value reaches the same one
// of web's 3 instances, and different values spread over them.
func TestConsulResolverRingHash(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	bs := []*backend{startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c")}
	a.setProtocol("web", "http")
	a.setEntry(&api.ServiceResolverConfigEntry{Kind: api.ServiceResolver, Name: "web", LoadBalancer: &api.LoadBalancer{
		Policy: "ring_hash", RingHashConfig: &api.RingHashConfig{MinimumRingSize: 4096, MaximumRingSize: 8192},
		HashPolicies: []api.HashPolicy{{Field: "header", FieldValue: "x-user"}}}})
	m := startConsulMesh(t, a, bs...)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	waitConfigDump(t, c, m.adminPort, `"RING_HASH"`)
	eventually(t, "traffic to all of web's instances", func() bool { return seenAll(c, m.webURL(), bs...) })

	const users, each = 30, 10
	spread := map[string]int{}
	for u := range users {
		user := fmt.Sprintf("user-%d", u)
		first := getWith(t, c, m.webURL(), "x-user", user)
		for range each - 1 {
			if got := getWith(t, c, m.webURL(), "x-user", user); got != first {
				t.Fatalf("x-user %s: went to %s, then to %s; want one backend", user, first, got)
			}
		}
		spread[first]++
	}
	t.Logf("%d users x %d requests, sticky; users per backend: %v", users, each, spread)
	if len(spread) < 3 {
		t.Errorf("users per backend %v: want all 3 backends used", spread)
	}
}

// An upstream passive_health_check written as service-defaults
// UpstreamConfig (max_failures 3) ejects the instance of web that answers
// 500: it gets exactly 3 requests (the consecutive failures that eject
// it, Envoy's default would be 5), then none while the two good ones
// answer everything else.
func TestConsulPassiveHealthCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	good1, good2, bad := startBackend(t, "good1"), startBackend(t, "good2"), startStatusBackend(t, "bad", http.StatusInternalServerError)
	a.setProtocol("web", "http")
	enforcing, base := uint32(100), time.Minute
	a.setEntry(&api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: "client", UpstreamConfig: &api.UpstreamConfiguration{
		Defaults: &api.UpstreamConfig{PassiveHealthCheck: &api.PassiveHealthCheck{
			Interval: time.Second, MaxFailures: 3, EnforcingConsecutive5xx: &enforcing, BaseEjectionTime: &base}}}})
	m := startConsulMesh(t, a, good1, good2, bad)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	waitConfigDump(t, c, m.adminPort, `"consecutive_5xx": 3`)
	eventually(t, "traffic to the good instances", func() bool { return seenAll(c, m.webURL(), good1, good2) })

	const n = 200
	failed := 0
	for range n {
		code, _, err := httpGet(c, m.webURL())
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusOK {
			failed++
		}
	}
	t.Logf("%d requests: %d answered 500; the failing instance got %d in all, good ones %d and %d",
		n, failed, bad.hits.Load(), good1.hits.Load(), good2.hits.Load())
	if got := bad.hits.Load(); got != 3 {
		t.Errorf("failing instance got %d requests, want exactly 3 (max_failures) before its ejection", got)
	}
}
