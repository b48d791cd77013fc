package filterchain

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func counters() (func(string) *atomic.Uint64, map[string]*atomic.Uint64) {
	m := map[string]*atomic.Uint64{}
	return func(name string) *atomic.Uint64 {
		if m[name] == nil {
			m[name] = new(atomic.Uint64)
		}
		return m[name]
	}, m
}

func TestRateLimitBuild(t *testing.T) {
	b := Get(spec.LocalRateLimitType)
	if b == nil {
		t.Fatal("local rate limit is not registered")
	}
	counter, stats := counters()
	cfg := &spec.LocalRateLimit{StatPrefix: "in", Bucket: spec.TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: time.Hour}}
	f, err := b.Build(cfg, Env{Counter: counter})
	if err != nil {
		t.Fatal(err)
	}
	got := []Status{f.OnNewConnection(nil), f.OnNewConnection(nil)}
	// Same settings: the bucket (empty now) carries over.
	same, err := b.Build(&spec.LocalRateLimit{StatPrefix: "in", Bucket: cfg.Bucket}, Env{Counter: counter, Prev: f})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, same.OnNewConnection(nil))
	// New settings: a new, full bucket.
	cfg2 := &spec.LocalRateLimit{StatPrefix: "in", Bucket: spec.TokenBucket{MaxTokens: 2, TokensPerFill: 1, FillInterval: time.Hour}}
	changed, err := b.Build(cfg2, Env{Counter: counter, Prev: same})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, changed.OnNewConnection(nil))
	// Disabled: lets everything through.
	off, err := b.Build(&spec.LocalRateLimit{StatPrefix: "in", Bucket: cfg.Bucket, Disabled: true}, Env{Counter: counter, Prev: same})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, off.OnNewConnection(nil))
	want := []Status{Continue, Close, Close, Continue, Continue}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := stats["local_ratelimit.in.rate_limited"].Load(); n != 2 {
		t.Errorf("local_ratelimit.in.rate_limited = %d, want 2", n)
	}
}

func TestRateLimitBuildErrors(t *testing.T) {
	counter, _ := counters()
	for _, cfg := range []any{
		&spec.LocalRateLimit{Bucket: spec.TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: 49 * time.Millisecond}},
		&spec.LocalRateLimit{Bucket: spec.TokenBucket{MaxTokens: 0, TokensPerFill: 1, FillInterval: time.Second}},
		"not a config",
	} {
		if _, err := Get(spec.LocalRateLimitType).Build(cfg, Env{Counter: counter}); err == nil {
			t.Errorf("Build(%+v) succeeded", cfg)
		}
	}
}

// TestRateLimitClosesConnections puts the filter in front of a terminal
// on a real socket: connections over the limit are closed at once.
func TestRateLimitClosesConnections(t *testing.T) {
	counter, stats := counters()
	f, err := Get(spec.LocalRateLimitType).Build(&spec.LocalRateLimit{StatPrefix: "rl",
		Bucket: spec.TokenBucket{MaxTokens: 2, TokensPerFill: 1, FillInterval: time.Hour}}, Env{Counter: counter})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler([]spec.FilterChainMatch{{}}, []*Chain{{Filters: []Filter{f}, Terminal: echo{"t"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, h)
	var got []string
	for range 4 {
		got = append(got, exchange(t, addr, "x"))
	}
	if diff := cmp.Diff([]string{"t:x", "t:x", "", ""}, got); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	if n := stats["local_ratelimit.rl.rate_limited"].Load(); n != 2 {
		t.Errorf("rate_limited = %d, want 2", n)
	}
}
