package integration

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// sendStatus sends one request with method to url on a new connection
// and returns the status and body; code 0 when there was no answer.
func sendStatus(method, url string) (int, string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

// rbacDenied is the sum of the RBAC filters' denied counters
// (<stat_prefix>.rbac.denied, as Envoy names them) on a sidecar's admin
// /stats.
func rbacDenied(t *testing.T, adminPort int) int {
	t.Helper()
	_, body, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/stats", adminPort))
	if err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`(?m)rbac\.denied: (\d+)$`).FindAllStringSubmatch(body, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// Through Consul's own xDS server only (sidecars started by `consul
// connect envoy -envoy-binary meshlb`, ACLs on with default deny and
// service-identity tokens):
//   - an L7 intention web → api (deny path prefix /allowed/secret, then
//     allow path prefix /allowed for GET, nothing else) lets GET
//     /allowed/x through and answers 403 to GET /denied, POST /allowed/x
//     and GET /allowed/secret/k;
//   - a service-router path route (/admin → service admin) reaches admin;
//   - web → db (TCP) with NO intention is denied by db's sidecar (its RBAC
//     denied counter rises), and flows once an allow intention is written.
func TestConsulEnvoyDropInL7Intentions(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var grpcAddr string
	a := startConsul(t, withACLs, withGRPC(t, &grpcAddr))
	apiBE, adminBE, dbBE := startBackend(t, "api"), startBackend(t, "admin"), startBackend(t, "db")
	for _, s := range []string{"web", "api", "admin"} {
		a.setProtocol(s, "http")
	}
	a.setProtocol("db", "tcp")
	a.setEntry(&api.ServiceRouterConfigEntry{Kind: api.ServiceRouter, Name: "api", Routes: []api.ServiceRoute{{
		Match:       &api.ServiceRouteMatch{HTTP: &api.ServiceRouteHTTPMatch{PathPrefix: "/admin"}},
		Destination: &api.ServiceRouteDestination{Service: "admin"},
	}}})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api", Sources: []*api.SourceIntention{
		{Name: "web", Permissions: []*api.IntentionPermission{
			{Action: api.IntentionActionDeny, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/allowed/secret"}},
			{Action: api.IntentionActionAllow, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/allowed", Methods: []string{"GET"}}},
		}},
	}})
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "admin",
		Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionAllow}}})
	upAPI, upDB := freePort(t), freePort(t)
	a.registerWithSidecar("api", "api", apiBE.port, freePort(t), nil)
	a.registerWithSidecar("admin", "admin", adminBE.port, freePort(t), nil)
	a.registerWithSidecar("db", "db", dbBE.port, freePort(t), nil)
	a.registerWithSidecar("web", "web", freePort(t), freePort(t), nil,
		api.Upstream{DestinationName: "api", LocalBindPort: upAPI},
		api.Upstream{DestinationName: "db", LocalBindPort: upDB})
	startEnvoyDropIn(t, a, grpcAddr, "api", a.serviceToken("api"))
	startEnvoyDropIn(t, a, grpcAddr, "admin", a.serviceToken("admin"))
	_, dbAdmin := startEnvoyDropIn(t, a, grpcAddr, "db", a.serviceToken("db"))
	startEnvoyDropIn(t, a, grpcAddr, "web", a.serviceToken("web"))

	apiURL := fmt.Sprintf("http://127.0.0.1:%d", upAPI)
	eventually(t, "GET /allowed/x through web's and api's sidecars", func() bool {
		code, body := sendStatus(http.MethodGet, apiURL+"/allowed/x")
		return code == 200 && body == "api"
	})
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodGet, "/allowed/y", 200, "api"},
		{http.MethodGet, "/denied", 403, ""},
		{http.MethodPost, "/allowed/x", 403, ""},
		{http.MethodGet, "/allowed/secret/k", 403, ""},
	} {
		code, body := sendStatus(tc.method, apiURL+tc.path)
		if code != tc.code || (tc.body != "" && body != tc.body) || (code == 403 && strings.Contains(body, "api")) {
			t.Errorf("%s %s through the L7 intention: %d %q, want %d %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}
	eventually(t, "the service-router route /admin → admin", func() bool {
		code, body := sendStatus(http.MethodGet, apiURL+"/admin/users")
		return code == 200 && body == "admin"
	})

	dbURL := fmt.Sprintf("http://127.0.0.1:%d/", upDB)
	before := rbacDenied(t, dbAdmin)
	eventually(t, "db's sidecar to deny web (no intention, ACL default deny)", func() bool {
		code, _ := sendStatus(http.MethodGet, dbURL)
		return code == 0 && rbacDenied(t, dbAdmin) > before
	})
	for range 5 {
		if code, body := sendStatus(http.MethodGet, dbURL); code != 0 {
			t.Fatalf("web → db with no intention answered %d %q, want no answer", code, body)
		}
	}
	if dbBE.hits.Load() != 0 {
		t.Errorf("db's backend got %d requests with no intention, want 0", dbBE.hits.Load())
	}
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "db",
		Sources: []*api.SourceIntention{{Name: "web", Action: api.IntentionActionAllow}}})
	took := eventually(t, "web → db once an allow intention exists", func() bool {
		code, body := sendStatus(http.MethodGet, dbURL)
		return code == 200 && body == "db"
	})
	t.Logf("web → db flowed %v after the allow intention was written", took)
}
