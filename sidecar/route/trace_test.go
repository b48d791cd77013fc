package route

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTraceAgreesWithMatch checks that Trace ends on the route Match
// returns and says why each route before it failed.
func TestTraceAgreesWithMatch(t *testing.T) {
	tb := testTable(t)
	tests := []struct {
		name   string
		req    *Request
		host   string // virtual host's domain and how
		failed []string
	}{
		{name: "exact host, first route", req: req("GET", "api.example.com", "/health"), host: "api.example.com: exact"},
		{name: "port dropped", req: req("GET", "api.example.com:8080", "/health"), host: "api.example.com: exact, for the host without its port"},
		{name: "header mismatch", req: req("GET", "api.example.com", "/v/x", "X-Version", "3"), host: "api.example.com: exact",
			failed: []string{`path "/health": path is "/v/x"`, `header x-version exact "2": request has "3"`,
				`header :method exact "POST": request has "GET"`, "query_parameter debug present: request has none",
				`safe_regex "/users/[0-9]+": path is "/v/x"`, `prefix "/Static/" (case-insensitive): path is "/v/x"`}},
		{name: "other host", req: req("GET", "other", "/x"), host: `*: catch-all "*": no exact or wildcard domain matched`,
			failed: []string{`path_separated_prefix "/app": path is "/x"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ht, routes := tb.Trace(tc.req)
			if got := ht.Domain + ": " + ht.How; got != tc.host {
				t.Errorf("virtual host = %q, want %q", got, tc.host)
			}
			want := tb.Match(tc.req)
			last := routes[len(routes)-1]
			if !last.Matched || last.Route != want {
				t.Fatalf("Trace ends on %+v, Match returns %v", last, want.Name)
			}
			var failed []string
			for _, r := range routes[:len(routes)-1] {
				failed = append(failed, r.Failed)
			}
			if diff := cmp.Diff(tc.failed, failed); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHashTrace(t *testing.T) {
	r := &Route{HashPolicy: compileHashPolicy(nil)}
	if h, steps := r.HashTrace(req("GET", "a", "/"), []byte("10.0.0.1")); h != 0 || len(steps) != 0 {
		t.Errorf("no policy: HashTrace = %d, %v", h, steps)
	}
}
