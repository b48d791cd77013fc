package sidecar

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// namedBackend answers every request with its name.
func namedBackend(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// namedBackends starts n named backends, b0 to b<n-1>.
func namedBackends(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for i := range n {
		addrs = append(addrs, namedBackend(t, fmt.Sprintf("b%d", i)))
	}
	return addrs
}

// TestHashPolicyStickyThroughSockets sends requests through a real
// listener to 4 backends under ring_hash and maglev with a header and
// with a cookie hash policy: every value of the header (cookie) always
// reaches the same backend, and the values spread over more than one
// backend.
func TestHashPolicyStickyThroughSockets(t *testing.T) {
	addrs := namedBackends(t, 4)
	for _, by := range []struct {
		policy         spec.HashPolicy
		header, prefix string
	}{
		{spec.HashPolicy{Kind: spec.HashHeader, Name: "x-user"}, "X-User", ""},
		{spec.HashPolicy{Kind: spec.HashCookie, Name: "sid"}, "Cookie", "theme=dark; sid="},
	} {
		for _, policy := range []string{"ring_hash", "maglev"} {
			t.Run(policy+"/"+by.header, func(t *testing.T) { stickyThroughSockets(t, addrs, policy, by.policy, by.header, by.prefix) })
		}
	}
}

// stickyThroughSockets checks that 20 users, each sending header with
// prefix and its name, stick to one backend each.
func stickyThroughSockets(t *testing.T, addrs []string, policy string, hp spec.HashPolicy, header, prefix string) {
	s := newSidecar(t)
	cl := staticCluster("be", addrs...)
	cl.LBPolicy = spec.LBPolicy(policy)
	url := serveHTTP(t, s, cl, func(l *config.Listener) {
		action(l).HashPolicy = []spec.HashPolicy{hp}
	})
	c := newClient()
	defer c.CloseIdleConnections()
	used := map[string]bool{}
	for u := range 20 {
		user := fmt.Sprintf("user-%d", u)
		_, first, _ := do(t, c, url, header, prefix+user)
		for range 5 {
			if code, got, _ := do(t, c, url, header, prefix+user); code != 200 || got != first {
				t.Fatalf("%s: got %d %q, want 200 %q every time", user, code, got, first)
			}
		}
		used[first] = true
	}
	if len(used) < 2 {
		t.Errorf("20 users reached %v, want more than one backend", used)
	}
}

// TestHashPolicySourceIPThroughSockets: with a source_ip policy, requests
// from one client (127.0.0.1) without any header all reach one backend.
func TestHashPolicySourceIPThroughSockets(t *testing.T) {
	addrs := namedBackends(t, 4)
	s := newSidecar(t)
	cl := staticCluster("be", addrs...)
	cl.LBPolicy = "maglev"
	url := serveHTTP(t, s, cl, func(l *config.Listener) {
		action(l).HashPolicy = []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-absent"}, {Kind: spec.HashSourceIP}}
	})
	got := map[string]int{}
	for range 20 {
		c := newClient() // a new connection, a new source port each time
		_, body, _ := do(t, c, url)
		c.CloseIdleConnections()
		got[body]++
	}
	if len(got) != 1 {
		t.Errorf("one client IP reached %v, want one backend", got)
	}
}

// TestHashPolicyRetryPreviousHosts: under maglev with a header hash, a
// retry with the previous_hosts predicate leaves the key's failing
// backend for another: no request of 40 users gets the 503.
func TestHashPolicyRetryPreviousHosts(t *testing.T) {
	s := newSidecar(t)
	var failing atomic.Int64
	cl := staticCluster("be", statusBackend(t, 503, &failing), namedBackend(t, "ok"))
	cl.LBPolicy = "maglev"
	url := serveHTTP(t, s, cl, func(l *config.Listener) {
		a := action(l)
		a.HashPolicy = []spec.HashPolicy{{Kind: spec.HashHeader, Name: "x-user"}}
		a.Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 1, PreviousHosts: true, HostSelectionAttempts: 20}
	})
	c := newClient()
	defer c.CloseIdleConnections()
	for u := range 40 {
		if code, body, _ := do(t, c, url, "X-User", fmt.Sprintf("user-%d", u)); code != 200 || body != "ok" {
			t.Errorf("user-%d: got %d %q, want 200 ok (failing backend hit %d times)", u, code, body, failing.Load())
		}
	}
	if failing.Load() == 0 {
		t.Errorf("no user hashed to the failing backend; the test shows nothing")
	}
}
