package filterchain

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// minFillInterval is the shortest fill_interval Envoy's network local
// rate limit filter accepts.
const minFillInterval = 50 * time.Millisecond

func init() { Register(rateLimitBuilder{}) }

type rateLimitBuilder struct{}

func (rateLimitBuilder) TypeURL() string { return spec.LocalRateLimitType }

// Build returns a local rate limit filter for a *spec.LocalRateLimit. It
// keeps env.Prev's bucket when the bucket's settings are unchanged, so a
// configuration update does not refill it.
func (rateLimitBuilder) Build(cfg any, env Env) (Filter, error) {
	c, ok := cfg.(*spec.LocalRateLimit)
	if !ok {
		return nil, fmt.Errorf("local rate limit: configuration is %T, want *spec.LocalRateLimit", cfg)
	}
	b := c.Bucket
	if b.MaxTokens == 0 || b.TokensPerFill == 0 {
		return nil, fmt.Errorf("local rate limit: max_tokens and tokens_per_fill must be positive")
	}
	if b.FillInterval < minFillInterval {
		return nil, fmt.Errorf("local rate limit: fill_interval must be at least %v, got %v", minFillInterval, b.FillInterval)
	}
	f := &rateLimit{disabled: c.Disabled, limited: env.Counter("local_ratelimit." + c.StatPrefix + ".rate_limited")}
	if prev, ok := env.Prev.(*rateLimit); ok && prev.bucket.cfg == b {
		f.bucket = prev.bucket
	} else {
		f.bucket = newBucket(b, time.Now())
	}
	return f, nil
}

// rateLimit is Envoy's network local rate limit filter: each new
// connection takes a token, and a connection that finds none is closed at
// once and counted in local_ratelimit.<stat_prefix>.rate_limited.
type rateLimit struct {
	bucket   *bucket
	disabled bool
	limited  *atomic.Uint64
}

var _ Filter = (*rateLimit)(nil)

func (r *rateLimit) OnNewConnection(net.Conn) Status {
	if r.disabled || r.bucket.take(time.Now()) {
		return Continue
	}
	r.limited.Add(1)
	return Close
}

// bucket is a token bucket refilled in whole fill intervals counted from
// its creation, as Envoy's timer-driven one. Its state, the tokens left and
// the number of the last interval accounted for, is one atomic word.
// Safe for concurrent use; take does not block or allocate.
type bucket struct {
	cfg   spec.TokenBucket
	start time.Time
	state atomic.Uint64 // tokens<<32 | interval
}

func newBucket(cfg spec.TokenBucket, now time.Time) *bucket {
	b := &bucket{cfg: cfg, start: now}
	b.state.Store(uint64(cfg.MaxTokens) << 32)
	return b
}

// take takes one token at time now and reports whether there was one.
func (b *bucket) take(now time.Time) bool {
	interval := uint64(now.Sub(b.start) / b.cfg.FillInterval)
	for {
		old := b.state.Load()
		tokens, last := old>>32, old&(1<<32-1)
		if cur := interval & (1<<32 - 1); cur > last {
			tokens = min(uint64(b.cfg.MaxTokens), tokens+(cur-last)*uint64(b.cfg.TokensPerFill))
			last = cur
		}
		if tokens == 0 {
			return false
		}
		if b.state.CompareAndSwap(old, (tokens-1)<<32|last) {
			return true
		}
	}
}
