package integration

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// consul runs the consul CLI against the agent (with the environment's
// CONSUL_HTTP_TOKEN, if any), and fails the test if it fails.
func (a *consulAgent) consul(args ...string) {
	a.t.Helper()
	cmd := exec.Command(a.bin, args...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+a.addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("consul %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// statValue returns counter name from the /stats of the sidecar whose
// admin listens on adminPort; 0 if it is not there.
func statValue(t *testing.T, adminPort int, name string) uint64 {
	t.Helper()
	_, body, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/stats", adminPort))
	if err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+": "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// statusOnNewConn sends GET path through web's upstream on a new
// connection and returns the status, 0 for no answer.
func (p *connectPair) statusOnNewConn(path string) int {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	code, _, err := httpGet(c, strings.TrimSuffix(p.url(), "/")+path)
	if err != nil {
		return 0
	}
	return code
}

// waitStatus waits until GET path through web's upstream, on a new
// connection, is answered code.
func (p *connectPair) waitStatus(t *testing.T, path string, code int) {
	t.Helper()
	eventually(t, fmt.Sprintf("GET %s from web to api to answer %d", path, code),
		func() bool { return p.statusOnNewConn(path) == code })
}

// denyN sends n requests from web to api, each on a new connection, and
// fails unless each is denied (403) and counted in api's rbac.denied.
func (p *connectPair) denyN(t *testing.T, n int, why string) {
	t.Helper()
	before := statValue(t, p.apiAdmin, httpRBACDenied)
	for i := range n {
		if code := p.statusOnNewConn("/"); code != http.StatusForbidden {
			t.Fatalf("request %d %s: status %d, want 403", i, why, code)
		}
	}
	if got := statValue(t, p.apiAdmin, httpRBACDenied); got != before+uint64(n) {
		t.Errorf("%s went from %d to %d over %d denied requests %s", httpRBACDenied, before, got, n, why)
	}
}

// reachablePair starts a Consul agent with its defaults (no ACLs, so
// intentions default to allow) and a connectPair on it, and waits until
// web reaches api. It skips the test in -short mode.
func reachablePair(t *testing.T) (*consulAgent, *connectPair) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	p := startConnectPair(t, a)
	p.waitStatus(t, "/", http.StatusOK)
	return a, p
}

// httpRBAC names api's HTTP RBAC counters: its public listener's
// connection manager has stat prefix "inbound".
const (
	httpRBACAllowed = "http.inbound.rbac.allowed"
	httpRBACDenied  = "http.inbound.rbac.denied"
)

// TestConsulIntentionDeny: with Consul's default (no ACLs: allow) web
// calls api over mTLS and api's app sees web's SPIFFE ID in
// x-forwarded-client-cert; then `consul intention create -deny web api`
// takes effect on new connections within 2 s, each denial answered 403,
// counted in api's sidecar's rbac.denied and logged.
func TestConsulIntentionDeny(t *testing.T) {
	a, p := reachablePair(t)
	xfcc := p.api.xfcc.Load()
	if want := "URI=" + a.spiffeFor("web"); xfcc == nil || !strings.Contains(*xfcc, want) {
		t.Errorf("api's app got x-forwarded-client-cert %v, want it to contain %s", xfcc, want)
	} else if !strings.HasPrefix(*xfcc, "By="+a.spiffeFor("api")+";Hash=") {
		t.Errorf("x-forwarded-client-cert %q does not start with By=<api's SPIFFE ID>;Hash=", *xfcc)
	}

	a.consul("intention", "create", "-deny", "web", "api")
	written := time.Now()
	const bound = 2 * time.Second
	for p.statusOnNewConn("/") != http.StatusForbidden {
		if time.Since(written) > bound {
			t.Fatalf("`consul intention create -deny web api` not in effect on new connections %v after it was written", bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("deny intention in effect on new connections %v after it was written", time.Since(written))
	p.denyN(t, 5, "after the deny intention")
	if log := p.apiSidecar.log.String(); !strings.Contains(log, "rbac: access denied") ||
		!strings.Contains(log, a.spiffeFor("web")) {
		t.Errorf("api's sidecar did not log the denial of web")
	}
}

// TestConsulIntentionL7: an L7 intention web → api that denies /admin
// and allows / : GET /admin is answered 403 and GET / 200, both counted.
func TestConsulIntentionL7(t *testing.T) {
	a, p := reachablePair(t)
	a.setEntry(&api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "api",
		Sources: []*api.SourceIntention{{Name: "web", Permissions: []*api.IntentionPermission{
			{Action: api.IntentionActionDeny, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/admin"}},
			{Action: api.IntentionActionAllow, HTTP: &api.IntentionHTTPPermission{PathPrefix: "/"}},
		}}}})
	p.waitStatus(t, "/admin", http.StatusForbidden)
	allowed, denied := statValue(t, p.apiAdmin, httpRBACAllowed), statValue(t, p.apiAdmin, httpRBACDenied)
	if code := p.statusOnNewConn("/admin/users"); code != http.StatusForbidden {
		t.Errorf("GET /admin/users: %d, want 403", code)
	}
	if code := p.statusOnNewConn("/"); code != http.StatusOK {
		t.Errorf("GET /: %d, want 200", code)
	}
	if code := p.statusOnNewConn("/orders"); code != http.StatusOK {
		t.Errorf("GET /orders: %d, want 200", code)
	}
	if got := statValue(t, p.apiAdmin, httpRBACAllowed); got != allowed+2 {
		t.Errorf("%s went from %d to %d, want +2", httpRBACAllowed, allowed, got)
	}
	if got := statValue(t, p.apiAdmin, httpRBACDenied); got != denied+1 {
		t.Errorf("%s went from %d to %d, want +1", httpRBACDenied, denied, got)
	}
}

// TestConsulACLDefaultDeny: with ACL default_policy = deny and no
// intentions, web's requests to api are denied (403, counted); an allow
// intention web → api lets them through, while a valid Connect
// certificate for another service (db) is still refused at api's public
// listener.
func TestConsulACLDefaultDeny(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t, withACLs)
	t.Setenv("CONSUL_HTTP_TOKEN", "root") // the control server's and the sidecars'
	p := startConnectPair(t, a)
	p.waitStatus(t, "/", http.StatusForbidden)
	p.denyN(t, 3, "with ACL default deny and no intentions")
	if hits := p.api.hits.Load(); hits != 0 {
		t.Errorf("api's app got %d requests, want none", hits)
	}

	a.consul("intention", "create", "-allow", "web", "api")
	p.waitStatus(t, "/", http.StatusOK)
	if code := publicStatus(t, p.publicAddr(), a.connectLeaf("db")); code != http.StatusForbidden {
		t.Errorf("a Connect certificate for db at api's public listener: status %d, want 403", code)
	}
	if code := publicStatus(t, p.publicAddr(), a.connectLeaf("web")); code != http.StatusOK {
		t.Errorf("a Connect certificate for web at api's public listener: status %d, want 200", code)
	}
}

// publicStatus sends GET / to the mTLS listener at addr with client's
// certificate, on a new connection, and returns the status (0: none).
func publicStatus(t *testing.T, addr string, client tls.Certificate) int {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{client}}}
	c := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	code, _, err := httpGet(c, "https://"+addr+"/")
	if err != nil {
		return 0
	}
	return code
}
