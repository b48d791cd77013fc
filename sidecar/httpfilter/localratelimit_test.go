package httpfilter

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

var all = spec.Fraction{Numerator: 100, Denominator: 100}

func rateLimit(max, perFill uint32, every time.Duration) *spec.HTTPLocalRateLimit {
	return &spec.HTTPLocalRateLimit{
		StatPrefix: "rl", Status: 429, Enabled: all, Enforced: all,
		Bucket: &spec.TokenBucket{MaxTokens: max, TokensPerFill: perFill, FillInterval: every},
	}
}

// allowed runs n requests through c and returns how many went on.
func allowed(t *testing.T, c *Chain, route, n int) int {
	t.Helper()
	ok := 0
	for range n {
		var s Stream
		s.Reset(&routeRequest, nil)
		if c.RequestHeaders(&s, route) == Continue {
			ok++
		}
	}
	return ok
}

var routeRequest = route.Request{Method: []byte("GET"), Path: []byte("/")}

func compileOne(t *testing.T, typ string, cfg any, state *State) *Chain {
	t.Helper()
	c, err := Compile([]spec.HTTPFilter{{Name: "f", TypeURL: typ, Config: cfg}}, nil, Env{Scope: "l", State: state})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenBucketRefill shows the bucket starts full, is drained, and
// gains tokens_per_fill at each fill_interval up to max_tokens.
func TestTokenBucketRefill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := compileOne(t, LocalRateLimitType, rateLimit(3, 2, time.Second), nil)
		if got := allowed(t, c, 0, 5); got != 3 {
			t.Errorf("full bucket: %d allowed, want 3", got)
		}
		time.Sleep(999 * time.Millisecond)
		if got := allowed(t, c, 0, 5); got != 0 {
			t.Errorf("before the interval: %d allowed, want 0", got)
		}
		time.Sleep(time.Millisecond)
		if got := allowed(t, c, 0, 5); got != 2 {
			t.Errorf("one fill: %d allowed, want 2", got)
		}
		time.Sleep(10 * time.Second)
		if got := allowed(t, c, 0, 5); got != 3 {
			t.Errorf("many fills: %d allowed, want max_tokens 3", got)
		}
	})
}

func TestLocalRateLimitReply(t *testing.T) {
	cfg := rateLimit(1, 1, time.Hour)
	cfg.ResponseHeaders = []spec.HeaderValue{{Name: "x-local-rate-limit", Value: "true"}}
	c := compileOne(t, LocalRateLimitType, cfg, nil)
	var s Stream
	s.Reset(&route.Request{}, nil)
	if c.RequestHeaders(&s, 0) != Continue {
		t.Fatal("first request limited")
	}
	if c.RequestHeaders(&s, 0) != StopReply {
		t.Fatal("second request not limited")
	}
	got := [3]string{s.Reply.Body, headerList(s.Reply.Headers), s.Flags.String()}
	want := [3]string{"local_rate_limited", "x-local-rate-limit=true,x-envoy-ratelimited=true", "RL"}
	if got != want || s.Reply.Status != 429 {
		t.Errorf("reply = %d %q, want 429 %q", s.Reply.Status, got, want)
	}
	st := c.base.req[0].(*localRateLimit).Stats
	if st.Enabled.Load() != 2 || st.OK.Load() != 1 || st.RateLimited.Load() != 1 || st.Enforced.Load() != 1 {
		t.Errorf("stats enabled/ok/limited/enforced = %d/%d/%d/%d, want 2/1/1/1", st.Enabled.Load(), st.OK.Load(), st.RateLimited.Load(), st.Enforced.Load())
	}
}

// TestLocalRateLimitFractions shows Envoy's defaults: not enabled, no
// filter; enabled but not enforced, requests pass with the configured
// headers added; a status under 400 becomes 429.
func TestLocalRateLimitFractions(t *testing.T) {
	cfg := rateLimit(1, 1, time.Hour)
	cfg.Enabled = spec.Fraction{Denominator: 100}
	if c := compileOne(t, LocalRateLimitType, cfg, nil); !c.Empty() {
		t.Errorf("a limit enabled for 0%% of requests is in the chain")
	}

	cfg = rateLimit(1, 1, time.Hour)
	cfg.Enforced = spec.Fraction{Denominator: 100}
	cfg.RequestHeadersWhenNotEnforced = []spec.HeaderValue{{Name: "x-limited", Value: "yes"}, {Name: "x-mode", Value: "shadow", Overwrite: true}}
	c := compileOne(t, LocalRateLimitType, cfg, nil)
	if got := allowed(t, c, 0, 3); got != 3 {
		t.Errorf("not enforced: %d allowed, want 3", got)
	}
	req := route.Request{Headers: []route.Header{{Name: []byte("X-Mode"), Value: []byte("live")}}}
	var s Stream
	s.Reset(&req, nil)
	c.RequestHeaders(&s, 0)
	if got := headerList(req.Headers); got != "X-Mode=shadow,x-limited=yes" {
		t.Errorf("headers when not enforced = %q", got)
	}

	cfg = rateLimit(0, 1, time.Hour)
	cfg.Status = 200
	c = compileOne(t, LocalRateLimitType, cfg, nil)
	s.Reset(&route.Request{}, nil)
	if c.RequestHeaders(&s, 0) != StopReply || s.Reply.Status != 429 {
		t.Errorf("status 200 answered %d, want 429", s.Reply.Status)
	}
	cfg.Status = 503
	c = compileOne(t, LocalRateLimitType, cfg, nil)
	s.Reset(&route.Request{}, nil)
	c.RequestHeaders(&s, 0)
	if s.Reply.Status != 503 || headerList(s.Reply.Headers) != "" {
		t.Errorf("status 503 answered %d with %q, want 503 without x-envoy-ratelimited", s.Reply.Status, headerList(s.Reply.Headers))
	}
}

// TestLocalRateLimitStateSurvivesSnapshots shows a new build with the
// same limit keeps the old bucket, and a changed limit starts a new one.
func TestLocalRateLimitStateSurvivesSnapshots(t *testing.T) {
	var prev *State
	build := func(max uint32) *Chain {
		st := prev.Next()
		defer st.Seal()
		prev = st
		return compileOne(t, LocalRateLimitType, rateLimit(max, 1, time.Hour), st)
	}
	c1 := build(2)
	if got := allowed(t, c1, 0, 2); got != 2 {
		t.Fatalf("%d allowed, want 2", got)
	}
	if got := allowed(t, build(2), 0, 2); got != 0 {
		t.Errorf("same limit in a new snapshot: %d allowed, want 0 (bucket kept)", got)
	}
	if got := allowed(t, build(3), 0, 5); got != 3 {
		t.Errorf("changed limit: %d allowed, want 3 (new bucket)", got)
	}
}

// TestLocalRateLimitPerRoute shows a route's own bucket, and the
// listener's bucket shared by the other routes.
func TestLocalRateLimitPerRoute(t *testing.T) {
	lst := spec.HTTPFilter{Name: "rl", TypeURL: LocalRateLimitType, Config: &spec.HTTPLocalRateLimit{StatPrefix: "rl"}}
	rc := &spec.RouteConfig{VirtualHosts: []spec.VirtualHost{{Routes: []spec.Route{
		{PerFilter: map[string]*spec.HTTPFilter{"rl": {Name: "rl", TypeURL: LocalRateLimitType, Config: rateLimit(2, 1, time.Hour)}}},
		{},
	}}}}
	c, err := Compile([]spec.HTTPFilter{lst}, rc, Env{Scope: "l"})
	if err != nil {
		t.Fatal(err)
	}
	if got := allowed(t, c, 0, 5); got != 2 {
		t.Errorf("route with a limit: %d allowed, want 2", got)
	}
	if got := allowed(t, c, 1, 5); got != 5 {
		t.Errorf("route without: %d allowed, want 5", got)
	}
}
