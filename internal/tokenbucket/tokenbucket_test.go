package tokenbucket

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRefill(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := New(spec.TokenBucket{MaxTokens: 3, TokensPerFill: 2, FillInterval: time.Second}, t0)
	take := func(at time.Duration, n int) int {
		ok := 0
		for range n {
			if b.Take(t0.Add(at)) {
				ok++
			}
		}
		return ok
	}
	for _, step := range []struct {
		at      time.Duration
		n, want int
	}{
		{0, 5, 3},                      // starts full
		{999 * time.Millisecond, 5, 0}, // no fill before the interval ends
		{time.Second, 5, 2},            // one fill
		{10 * time.Second, 5, 3},       // many fills, capped
		{10*time.Second + 1, 1, 0},     // same interval
		{11 * time.Second, 1, 1},       // next one
	} {
		if got := take(step.at, step.n); got != step.want {
			t.Errorf("at %v: %d of %d taken, want %d", step.at, got, step.n, step.want)
		}
	}
}

// TestTakeNow shows TakeNow following the monotonic clock.
func TestTakeNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(spec.TokenBucket{MaxTokens: 1, FillInterval: time.Second}, time.Now())
		if !b.TakeNow() || b.TakeNow() {
			t.Fatal("a full bucket of 1 did not give exactly one token")
		}
		time.Sleep(time.Second)
		if !b.TakeNow() {
			t.Error("no token after fill_interval")
		}
	})
}

func TestConcurrent(t *testing.T) {
	b := New(spec.TokenBucket{MaxTokens: 1000, TokensPerFill: 1, FillInterval: time.Hour}, time.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Go(func() {
			n := 0
			for range 500 {
				if b.Take(time.Now()) {
					n++
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 1000 {
		t.Errorf("%d tokens taken, want 1000", total)
	}
}

func BenchmarkTake(b *testing.B) {
	bk := New(spec.TokenBucket{MaxTokens: 1 << 31, TokensPerFill: 1, FillInterval: time.Hour}, time.Now())
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		bk.Take(now)
	}
}
