package route

import (
	"fmt"
	"testing"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func testTable(t testing.TB) *Table {
	rc := &spec.RouteConfig{Name: "rc", VirtualHosts: []spec.VirtualHost{
		{Name: "api", Domains: []string{"api.example.com", "*.api.example.com"}, Routes: []spec.Route{
			{Name: "exact", Match: spec.RouteMatch{Kind: spec.PathExact, Path: "/health", CaseSensitive: true}, Action: &spec.RouteAction{Cluster: "health"}},
			{Name: "v2-header", Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/v", CaseSensitive: true,
				Headers: []spec.HeaderMatch{{Name: "x-version", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "2"}}}},
				Action: &spec.RouteAction{Cluster: "v2"}},
			{Name: "post", Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/", CaseSensitive: true,
				Headers: []spec.HeaderMatch{{Name: ":method", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "POST"}}}},
				Action: &spec.RouteAction{Cluster: "writes"}},
			{Name: "query", Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/", CaseSensitive: true,
				Query: []spec.QueryMatch{{Name: "debug", Match: spec.StringMatch{Kind: spec.MatchPresent}}}},
				Action: &spec.RouteAction{Cluster: "debug"}},
			{Name: "regex", Match: spec.RouteMatch{Kind: spec.PathRegex, Path: "/users/[0-9]+", CaseSensitive: true}, Action: &spec.RouteAction{Cluster: "users"}},
			{Name: "ci", Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/Static/"}, Action: &spec.RouteAction{Cluster: "static"}},
			{Name: "default", Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/", CaseSensitive: true}, Action: &spec.RouteAction{Cluster: "v1"}},
		}},
		{Name: "any", Domains: []string{"*"}, Routes: []spec.Route{
			{Name: "sep", Match: spec.RouteMatch{Kind: spec.PathSeparatedPrefix, Path: "/app", CaseSensitive: true}, Action: &spec.RouteAction{Cluster: "app"}},
			{Name: "fallback", Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: "/", CaseSensitive: true}, Direct: &spec.DirectResponse{Status: 404}},
		}},
	}}
	tb, err := Compile(rc, func(name string) *cluster.Cluster { return &cluster.Cluster{Name: name} })
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func req(method, host, target string, headers ...string) *Request {
	r := &Request{Method: []byte(method), Host: []byte(host)}
	path, query, found := cutString(target, '?')
	r.Path = []byte(path)
	if found {
		r.Query = []byte(query)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func cutString(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestMatch(t *testing.T) {
	tb := testTable(t)
	tests := []struct {
		name string
		req  *Request
		want string // route name, "" for no match
	}{
		{"exact path", req("GET", "api.example.com", "/health"), "exact"},
		{"exact path is exact", req("GET", "api.example.com", "/healthz"), "default"},
		{"host with port", req("GET", "api.example.com:8080", "/health"), "exact"},
		{"host case", req("GET", "API.Example.COM", "/health"), "exact"},
		{"suffix wildcard", req("GET", "eu.api.example.com", "/health"), "exact"},
		{"header match", req("GET", "api.example.com", "/v/x", "X-Version", "2"), "v2-header"},
		{"header mismatch", req("GET", "api.example.com", "/v/x", "X-Version", "3"), "default"},
		{"method", req("POST", "api.example.com", "/x"), "post"},
		{"query present", req("GET", "api.example.com", "/x?a=1&debug"), "query"},
		{"query absent", req("GET", "api.example.com", "/x?a=1&debugger=1"), "default"},
		{"regex", req("GET", "api.example.com", "/users/42"), "regex"},
		{"regex whole path", req("GET", "api.example.com", "/users/42/x"), "default"},
		{"case insensitive prefix", req("GET", "api.example.com", "/static/app.js"), "ci"},
		{"other host", req("GET", "other", "/x"), "fallback"},
		{"separated prefix exact", req("GET", "other", "/app"), "sep"},
		{"separated prefix slash", req("GET", "other", "/app/x"), "sep"},
		{"separated prefix not segment", req("GET", "other", "/apple"), "fallback"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if r := tb.Match(tc.req); r != nil {
				got = r.Name
			}
			if got != tc.want {
				t.Errorf("Match() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWeightedPick(t *testing.T) {
	rc := &spec.RouteConfig{VirtualHosts: []spec.VirtualHost{{Domains: []string{"*"}, Routes: []spec.Route{{
		Match:  spec.RouteMatch{Kind: spec.PathPrefix, Path: "/"},
		Action: &spec.RouteAction{Weighted: []spec.WeightedCluster{{Name: "a", Weight: 90}, {Name: "b", Weight: 10}}},
	}}}}}
	tb, err := Compile(rc, func(name string) *cluster.Cluster { return &cluster.Cluster{Name: name} })
	if err != nil {
		t.Fatal(err)
	}
	rt := tb.Match(req("GET", "x", "/"))
	counts := map[string]int{}
	const n = 20000
	for range n {
		counts[rt.Pick().Name]++
	}
	if share := float64(counts["a"]) / n; share < 0.88 || share > 0.92 {
		t.Errorf("share of a = %.3f, want 0.90 +- 0.02 (counts %v)", share, counts)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		rc   *spec.RouteConfig
		want string
	}{
		{"bad regex", &spec.RouteConfig{Name: "r", VirtualHosts: []spec.VirtualHost{{Domains: []string{"*"}, Routes: []spec.Route{{
			Match: spec.RouteMatch{Kind: spec.PathRegex, Path: "(("}, Action: &spec.RouteAction{Cluster: "x"}}}}}},
			`route config "r": virtual_hosts[0].routes[0]: regex "((": error parsing regexp: missing closing ): ` + "`^(?:(()$`"},
		{"duplicate domain", &spec.RouteConfig{Name: "r", VirtualHosts: []spec.VirtualHost{{Domains: []string{"a"}}, {Domains: []string{"a"}}}},
			`route config "r": virtual_hosts[1].domains: domain "a" appears in two virtual hosts`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.rc, func(string) *cluster.Cluster { return nil })
			if err == nil || err.Error() != tc.want {
				t.Errorf("Compile() error = %v, want %q", err, tc.want)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	tb := testTable(b)
	for _, tc := range []struct {
		name string
		r    *Request
	}{
		{"exact", req("GET", "api.example.com", "/health")},
		{"header", req("GET", "api.example.com", "/v/x", "User-Agent", "wrk", "Accept", "*/*", "X-Version", "2")},
		{"fallthrough-default", req("GET", "api.example.com", "/orders/17", "User-Agent", "wrk", "Accept", "*/*")},
		{"wildcard-host", req("GET", "www.example.org", "/app/x")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tb.Match(tc.r) == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkMatchManyRoutes(b *testing.B) {
	var routes []spec.Route
	for i := range 100 {
		routes = append(routes, spec.Route{Match: spec.RouteMatch{Kind: spec.PathPrefix, Path: fmt.Sprintf("/svc%03d/", i), CaseSensitive: true},
			Action: &spec.RouteAction{Cluster: "c"}})
	}
	rc := &spec.RouteConfig{VirtualHosts: []spec.VirtualHost{{Domains: []string{"*"}, Routes: routes}}}
	tb, err := Compile(rc, func(string) *cluster.Cluster { return &cluster.Cluster{} })
	if err != nil {
		b.Fatal(err)
	}
	r := req("GET", "x", "/svc099/items")
	b.ReportAllocs()
	for b.Loop() {
		if tb.Match(r) == nil {
			b.Fatal("no match")
		}
	}
}
