package sidecar

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestHashPolicyCookieTTLThroughSockets: under ring_hash over 3 backends,
// a cookie policy with a ttl gives a client without the cookie Envoy's
// Set-Cookie (the hex xxHash64 of the connection's remote and local
// addresses); replaying that cookie reaches the same backend 100 times
// over new connections, and clients on other ports get other cookies
// that spread over the backends.
func TestHashPolicyCookieTTLThroughSockets(t *testing.T) {
	addrs := namedBackends(t, 3)
	s := newSidecar(t)
	cl := staticCluster("be", addrs...)
	cl.LBPolicy = "ring_hash"
	url := serveHTTP(t, s, cl, func(l *config.Listener) {
		action(l).HashPolicy = []spec.HashPolicy{{Kind: spec.HashCookie, Name: "lb", Cookie: &spec.SetCookie{MaxAge: 3600, Path: "/"}}}
	})
	proxy := strings.TrimPrefix(url, "http://")

	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	backend, set := rawGet(t, c, "")
	val := fmt.Sprintf("%016x", xxhash.Sum64String(c.LocalAddr().String()+c.RemoteAddr().String()))
	if want := `lb="` + val + `"; Max-Age=3600; Path=/; HttpOnly`; set != want {
		t.Fatalf("first response Set-Cookie = %q, want %q", set, want)
	}
	if b2, set2 := rawGet(t, c, ""); b2 != backend || set2 != set {
		t.Errorf("second request on the connection: %s with %q, want %s with the same cookie %q", b2, set2, backend, set)
	}
	c.Close()

	hc := newClient()
	defer hc.CloseIdleConnections()
	for i := range 100 {
		code, got, _ := do(t, hc, url, "Cookie", "lb="+val)
		if code != 200 || got != backend {
			t.Fatalf("replay %d: got %d %q, want 200 %q every time", i, code, got, backend)
		}
	}

	used, cookies := map[string]int{}, map[string]bool{}
	for range 30 {
		c, err := net.Dial("tcp", proxy) // a new source port
		if err != nil {
			t.Fatal(err)
		}
		b, set := rawGet(t, c, "")
		c.Close()
		used[b]++
		cookies[set] = true
	}
	if len(cookies) != 30 || len(used) < 2 {
		t.Errorf("30 clients got %d cookies and reached %v; want 30 cookies over more than one backend", len(cookies), used)
	}
	t.Logf("30 new clients reached %v", used)
}

// rawGet sends GET / on c with cookie (when not empty) and returns the
// body and the Set-Cookie header.
func rawGet(t *testing.T, c net.Conn, cookie string) (string, string) {
	t.Helper()
	req := "GET / HTTP/1.1\r\nHost: web\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("got %d %q, want 200", resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("Set-Cookie")
}

// TestHashPolicyFilterStateThroughSockets: no meshlb filter sets a
// hashable filter-state object, so a filter_state policy finds no value,
// as Envoy's for a key no filter set: alone, requests go to random
// backends of the ring; beside a header policy, the header's hash
// decides.
func TestHashPolicyFilterStateThroughSockets(t *testing.T) {
	addrs := namedBackends(t, 3)
	state := spec.HashPolicy{Kind: spec.HashFilterState, Name: "envoy.network.upstream_server_name"}
	for _, tt := range []struct {
		name   string
		hp     []spec.HashPolicy
		sticky bool
	}{
		{"alone: random", []spec.HashPolicy{state}, false},
		{"with a header: the header's hash", []spec.HashPolicy{state, {Kind: spec.HashHeader, Name: "x-user"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSidecar(t)
			cl := staticCluster("be", addrs...)
			cl.LBPolicy = "ring_hash"
			url := serveHTTP(t, s, cl, func(l *config.Listener) { action(l).HashPolicy = tt.hp })
			c := newClient()
			defer c.CloseIdleConnections()
			used := map[string]int{}
			for range 60 {
				_, body, _ := do(t, c, url, "X-User", "alice")
				used[body]++
			}
			if sticky := len(used) == 1; sticky != tt.sticky {
				t.Errorf("60 requests reached %v; want one backend: %v", used, tt.sticky)
			}
		})
	}
}
