package filterchain

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/internal/tokenbucket"
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
	if prev, ok := env.Prev.(*rateLimit); ok && prev.bucket.Config() == b {
		f.bucket = prev.bucket
	} else {
		f.bucket = tokenbucket.New(b, time.Now())
	}
	return f, nil
}

// rateLimit is Envoy's network local rate limit filter: each new
// connection takes a token, and a connection that finds none is closed at
// once and counted in local_ratelimit.<stat_prefix>.rate_limited.
type rateLimit struct {
	bucket   *tokenbucket.Bucket
	disabled bool
	limited  *atomic.Uint64
}

var _ Filter = (*rateLimit)(nil)

func (r *rateLimit) OnNewConnection(net.Conn) Status {
	if r.disabled || r.bucket.Take(time.Now()) {
		return Continue
	}
	r.limited.Add(1)
	return Close
}
