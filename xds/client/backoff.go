package client

import (
	"math/rand/v2"
	"time"
)

// backoff computes exponential delays with full jitter: the n-th delay since
// the last reset is uniform in (0, min(max, base*2^n)]. See
// https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
// The zero value is not usable; set base and max. Not safe for concurrent use.
type backoff struct {
	base, max time.Duration
	n         int
}

// next returns the next delay and advances the attempt count.
func (b *backoff) next() time.Duration {
	d := b.ceiling(b.n)
	b.n++
	return rand.N(d) + 1
}

// ceiling is the upper bound of the n-th delay.
func (b *backoff) ceiling(n int) time.Duration {
	d := b.base
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// reset starts the sequence over.
func (b *backoff) reset() { b.n = 0 }
