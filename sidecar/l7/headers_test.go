package l7

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// headerEcho is an upstream that answers with the request's Host, path
// and the headers named in its X-Show header, one per line, and with a
// Server and an X-Up header.
func headerEcho(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "up")
		w.Header().Set("X-Up", "1")
		lines := []string{"host=" + r.Host, "path=" + r.URL.RequestURI()}
		for _, n := range strings.Split(r.Header.Get("X-Show"), ",") {
			if n != "" {
				lines = append(lines, n+"="+strings.Join(r.Header.Values(n), "|"))
			}
		}
		w.Write([]byte(strings.Join(lines, "\n")))
	}))
	t.Cleanup(s.Close)
	return s
}

// do sends a GET through the proxy and returns the response.
func do(t *testing.T, c *http.Client, url string, hdr map[string]string) (*http.Response, []string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, strings.Split(string(b), "\n")
}

// TestHeaderMutationsThroughSockets shows the three levels of
// request_headers_to_add/remove and response_headers_to_add/remove with
// substitutions, through a real proxy and upstream.
func TestHeaderMutationsThroughSockets(t *testing.T) {
	up := headerEcho(t)
	rt := toCluster("/", "web")
	rt.Headers = spec.HeaderMutations{
		RequestAdd: []spec.HeaderAdd{
			{Name: "x-level", Value: "route", Action: spec.OverwriteIfExistsOrAdd},
			{Name: "x-client", Value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"},
			{Name: "x-proto", Value: "%PROTOCOL% %REQ(:METHOD)% %REQ(x-in)%"},
		},
		RequestRemove:  []string{"x-secret"},
		ResponseAdd:    []spec.HeaderAdd{{Name: "x-upstream", Value: "%UPSTREAM_HOST%"}, {Name: "x-up", Value: "route", Action: spec.OverwriteIfExists}},
		ResponseRemove: []string{"server"},
	}
	rc := prefixRoutes(rt)
	rc.VirtualHosts[0].Headers = spec.HeaderMutations{
		RequestAdd:  []spec.HeaderAdd{{Name: "x-level", Value: "vhost", Action: spec.OverwriteIfExistsOrAdd}, {Name: "x-vhost", Value: "1"}},
		ResponseAdd: []spec.HeaderAdd{{Name: "x-copy", Value: "%RESP(x-up)%"}},
	}
	rc.Headers = spec.HeaderMutations{
		RequestAdd:  []spec.HeaderAdd{{Name: "x-level", Value: "config", Action: spec.OverwriteIfExistsOrAdd}, {Name: "x-in", Value: "absent", Action: spec.AddIfAbsent}},
		ResponseAdd: []spec.HeaderAdd{{Name: "x-config", Value: "%START_TIME(%Y)%"}},
	}
	p := startProxy(t, rc, map[string][]string{"web": {hostOf(up)}}, func(c *Config) { c.Describe = true })
	defer p.stop()
	c := newClient()
	defer c.CloseIdleConnections()
	resp, lines := do(t, c, "http://"+p.addr+"/a?b=c", map[string]string{
		"X-Show": "x-level,x-client,x-proto,x-secret,x-vhost,x-in", "X-Secret": "s", "X-In": "given"})
	want := []string{"host=" + p.addr, "path=/a?b=c", "x-level=config", "x-client=127.0.0.1", "x-proto=HTTP/1.1 GET given",
		"x-secret=", "x-vhost=1", "x-in=given"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("upstream saw (-want +got):\n%s", diff)
	}
	got := map[string]string{"Server": resp.Header.Get("Server"), "X-Upstream": resp.Header.Get("X-Upstream"),
		"X-Up": resp.Header.Get("X-Up"), "X-Copy": resp.Header.Get("X-Copy"), "X-Config": resp.Header.Get("X-Config")}
	wantResp := map[string]string{"Server": "", "X-Upstream": hostOf(up), "X-Up": "route", "X-Copy": "route",
		"X-Config": time.Now().UTC().Format("2006")}
	if diff := cmp.Diff(wantResp, got); diff != "" {
		t.Errorf("client saw (-want +got):\n%s", diff)
	}
}

// TestRouteRewrites shows regex_rewrite and host_rewrite_header.
func TestRouteRewrites(t *testing.T) {
	up := headerEcho(t)
	rt := toCluster("/service/", "web")
	rt.Action.RegexRewrite = &spec.RegexRewrite{Pattern: "^/service/([^/]+)(/.*)$", Substitution: `\2/instance/\1`}
	rt.Action.HostRewriteHeader = "x-host"
	p := startProxy(t, prefixRoutes(rt), map[string][]string{"web": {hostOf(up)}})
	defer p.stop()
	c := newClient()
	defer c.CloseIdleConnections()
	_, lines := do(t, c, "http://"+p.addr+"/service/foo/v1/api?q=1", map[string]string{"X-Host": "rewritten.example"})
	if diff := cmp.Diff([]string{"host=rewritten.example", "path=/v1/api/instance/foo?q=1"}, lines); diff != "" {
		t.Errorf("upstream saw (-want +got):\n%s", diff)
	}
	_, lines = do(t, c, "http://"+p.addr+"/service/foo/x", nil)
	if diff := cmp.Diff([]string{"host=" + p.addr, "path=/x/instance/foo"}, lines); diff != "" {
		t.Errorf("without the header, upstream saw (-want +got):\n%s", diff)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequestID shows x-request-id generated when absent, kept when the
// client sent one, replaced at the edge unless preserved, and not
// generated when generate_request_id is false.
func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		policy forward.RequestID
		given  string
		want   string // "uuid": a new UUIDv4
	}{
		{"generated", forward.RequestID{Generate: true}, "", "uuid"},
		{"kept", forward.RequestID{Generate: true}, "mine", "mine"},
		{"kept at the edge from an internal client", forward.RequestID{Generate: true, Edge: true}, "mine", "mine"},
		{"preserved at the edge", forward.RequestID{Generate: true, Edge: true, Preserve: true}, "mine", "mine"},
		{"not generated", forward.RequestID{}, "", ""},
	}
	up := headerEcho(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(up)}},
				func(c *Config) { c.RequestID = tc.policy })
			defer p.stop()
			c := newClient()
			defer c.CloseIdleConnections()
			hdr := map[string]string{"X-Show": "x-request-id"}
			if tc.given != "" {
				hdr["X-Request-Id"] = tc.given
			}
			ids := map[string]bool{}
			for range 3 {
				_, lines := do(t, c, "http://"+p.addr+"/", hdr)
				got := strings.TrimPrefix(lines[2], "x-request-id=")
				switch {
				case tc.want == "uuid" && !uuidV4.MatchString(got):
					t.Fatalf("x-request-id = %q, want a UUIDv4", got)
				case tc.want != "uuid" && got != tc.want:
					t.Fatalf("x-request-id = %q, want %q", got, tc.want)
				}
				ids[got] = true
			}
			if tc.want == "uuid" && len(ids) != 3 {
				t.Errorf("3 requests got %d distinct ids", len(ids))
			}
		})
	}
}

// TestEnvoyHeaders shows x-envoy-expected-rq-timeout-ms (the per-try
// timeout when shorter than the route's) and x-envoy-upstream-service-time.
func TestEnvoyHeaders(t *testing.T) {
	up := headerEcho(t)
	plain := toCluster("/plain", "web")
	perTry := toCluster("/try", "web")
	perTry.Action.Retry = &spec.RetryPolicy{On: []string{"5xx"}, NumRetries: 1, PerTry: 1500 * time.Millisecond}
	none := toCluster("/none", "web")
	none.Action.Timeout = 0
	p := startProxy(t, prefixRoutes(plain, perTry, none), map[string][]string{"web": {hostOf(up)}},
		func(c *Config) { c.EnvoyHeaders = true })
	defer p.stop()
	c := newClient()
	defer c.CloseIdleConnections()
	for _, tc := range []struct{ path, want string }{{"/plain", "5000"}, {"/try", "1500"}, {"/none", ""}} {
		resp, lines := do(t, c, "http://"+p.addr+tc.path, map[string]string{"X-Show": "x-envoy-expected-rq-timeout-ms"})
		if got := strings.TrimPrefix(lines[2], "x-envoy-expected-rq-timeout-ms="); got != tc.want {
			t.Errorf("%s: x-envoy-expected-rq-timeout-ms = %q, want %q", tc.path, got, tc.want)
		}
		if v := resp.Header.Values("X-Envoy-Upstream-Service-Time"); len(v) != 1 || !regexp.MustCompile(`^\d+$`).MatchString(v[0]) {
			t.Errorf("%s: x-envoy-upstream-service-time = %q, want one number", tc.path, v)
		}
	}
}

// BenchmarkRequestHeaderMutations is BenchmarkRequest with Envoy's default
// x-request-id generation and a route with header mutations.
func BenchmarkRequestHeaderMutations(b *testing.B) {
	up := rawUpstream(b, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"))
	rt := toCluster("/", "web")
	rt.Headers = spec.HeaderMutations{
		RequestAdd:  []spec.HeaderAdd{{Name: "x-client", Value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}, {Name: "x-route", Value: "web"}},
		ResponseAdd: []spec.HeaderAdd{{Name: "x-served-by", Value: "meshlb"}},
	}
	p := startProxy(b, prefixRoutes(rt), map[string][]string{"web": {up}}, func(c *Config) {
		c.Describe, c.RequestID = true, forward.RequestID{Generate: true}
	})
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /api/v1/items?id=42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: wrk/4.2\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	n := firstResponse(b, c, req, buf)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestH2CUpgradeIgnored: a request asking to upgrade to h2c (RFC 7540
// 3.2) is served as plain HTTP/1.1, as Envoy does: the upstream sees
// neither Upgrade nor HTTP2-Settings, and the client gets the upstream's
// 200, not 101, on a connection that stays HTTP/1.1.
func TestH2CUpgradeIgnored(t *testing.T) {
	up := headerEcho(t)
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(up)}})
	defer p.stop()
	req := "GET /h2c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
		"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nX-Show: upgrade,http2-settings\r\n\r\n"
	got := rawExchange(t, p.addr, req)
	want := "HTTP/1.1 200 OK\r\n\r\nhost=h\npath=/h2c\nupgrade=\nhttp2-settings="
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
