package httpfilter

import (
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// tokenBucket is Envoy's token bucket: it starts full and gains perFill
// tokens at the end of every fill interval, up to max. It is lock-free:
// refills are computed lazily from the monotonic clock when a token is
// taken, so there is no timer goroutine, and a request costs one clock
// read and a few atomic operations. Safe for concurrent use.
//
// fills counts the intervals already credited; the taker that advances
// it with a compare-and-swap credits the tokens. A concurrent taker may
// miss tokens being credited that instant and be limited; like Envoy's
// shared bucket, the limit is fuzzy by that much, never above max.
type tokenBucket struct {
	max, perFill int64
	interval     time.Duration
	start        time.Time
	tokens       atomic.Int64
	fills        atomic.Int64
}

func newTokenBucket(s *spec.TokenBucket) *tokenBucket {
	b := &tokenBucket{
		max:      int64(s.MaxTokens),
		perFill:  int64(max(s.TokensPerFill, 1)),
		interval: s.FillInterval,
		start:    time.Now(),
	}
	b.tokens.Store(b.max)
	return b
}

// take consumes a token and reports whether there was one.
func (b *tokenBucket) take() bool {
	b.refill()
	for {
		t := b.tokens.Load()
		if t <= 0 {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-1) {
			return true
		}
	}
}

func (b *tokenBucket) refill() {
	k := int64(time.Since(b.start) / b.interval)
	f := b.fills.Load()
	if k <= f || !b.fills.CompareAndSwap(f, k) {
		return
	}
	add := b.max
	if n := k - f; n < b.max/b.perFill+1 {
		add = min(n*b.perFill, b.max)
	}
	for {
		t := b.tokens.Load()
		if b.tokens.CompareAndSwap(t, min(t+add, b.max)) {
			return
		}
	}
}
