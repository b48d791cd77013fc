package httpfilter

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/internal/tokenbucket"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// LocalRateLimitType is the type URL of Envoy's HTTP local rate limit.
const LocalRateLimitType = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"

func init() { Register(localRateLimitBuilder{}) }

type localRateLimitBuilder struct{}

func (localRateLimitBuilder) TypeURL() string { return LocalRateLimitType }

// Build compiles a *spec.HTTPLocalRateLimit. Its token bucket is lock-free
// (one atomic word, refilled lazily from the clock: no timer goroutine and
// no lock on the request path). The bucket is kept in env.State
// under the scope and the whole configuration, so a new snapshot with the
// same limit keeps counting where the last one was.
func (localRateLimitBuilder) Build(cfg any, env Env) (Filter, error) {
	c, ok := cfg.(*spec.HTTPLocalRateLimit)
	if !ok {
		return nil, fmt.Errorf("local_ratelimit: config is %T, want *spec.HTTPLocalRateLimit", cfg)
	}
	if c.Bucket == nil || c.Enabled.Numerator == 0 {
		return nil, nil // nothing to check: Envoy lets every request through
	}
	// A changed configuration gets a new bucket, as a changed listener
	// does in Envoy; an unrelated update keeps it.
	rest := *c
	rest.Bucket = nil
	key := fmt.Sprintf("local_ratelimit %s %+v %+v", env.Scope, *c.Bucket, rest)
	f := &localRateLimit{
		enabled:     c.Enabled,
		enforced:    c.Enforced,
		bucket:      env.State.Get(key, func() any { return tokenbucket.New(*c.Bucket, time.Now()) }).(*tokenbucket.Bucket),
		notEnforced: headerValues(c.RequestHeadersWhenNotEnforced),
		reply: Reply{Status: c.Status, Body: "local_rate_limited", Flag: stream.RateLimited,
			Headers: headers(c.ResponseHeaders)},
		Stats: newRateLimitStats(c.StatPrefix, env),
	}
	if f.reply.Status < 400 {
		f.reply.Status = 429
	}
	if f.reply.Status == 429 {
		// Envoy's local replies say x-envoy-ratelimited on 429.
		f.reply.Headers = append(f.reply.Headers, route.Header{Name: []byte("x-envoy-ratelimited"), Value: []byte("true")})
	}
	return f, nil
}

// RateLimitStats are a local rate limit's counters, Envoy's
// <stat_prefix>.http_local_rate_limit.{enabled,enforced,rate_limited,ok}.
type RateLimitStats struct {
	Enabled, Enforced, RateLimited, OK *atomic.Uint64
}

func newRateLimitStats(prefix string, env Env) *RateLimitStats {
	p := prefix + ".http_local_rate_limit."
	return &RateLimitStats{
		Enabled:     env.counter(p + "enabled"),
		Enforced:    env.counter(p + "enforced"),
		RateLimited: env.counter(p + "rate_limited"),
		OK:          env.counter(p + "ok"),
	}
}

// localRateLimit answers requests over its token bucket's rate with a
// local reply, for the enforced fraction of the enabled fraction of
// requests.
type localRateLimit struct {
	enabled, enforced spec.Fraction
	bucket            *tokenbucket.Bucket
	notEnforced       []headerValue
	reply             Reply
	Stats             *RateLimitStats
}

func (f *localRateLimit) RequestHeaders(s *Stream) Status {
	if !roll(f.enabled) {
		return Continue
	}
	f.Stats.Enabled.Add(1)
	if f.bucket.TakeNow() {
		f.Stats.OK.Add(1)
		return Continue
	}
	f.Stats.RateLimited.Add(1)
	if !roll(f.enforced) {
		addHeaders(s.Request, f.notEnforced)
		return Continue
	}
	f.Stats.Enforced.Add(1)
	s.Reply = f.reply
	return StopReply
}

// roll reports true for the fraction p of calls: never for a numerator
// of 0 (as Envoy's random % denominator < numerator), always at or above
// 100%. A zero Fraction (0/0, which sidecar/config never produces: it
// NACKs a denominator outside Envoy's enum, as Envoy's defined_only rule)
// is 0%, as [percent] and Explain say.
func roll(p spec.Fraction) bool {
	if always(p) {
		return true
	}
	return p.Numerator > 0 && rand.Uint32N(p.Denominator) < p.Numerator
}

// always reports whether p holds for every call, as roll decides.
func always(p spec.Fraction) bool { return p.Numerator > 0 && p.Numerator >= p.Denominator }
