package sidecar

import (
	"sync/atomic"
	"testing"

	"github.com/meshlb/meshlb/sidecar/config"
)

// retry_priority previous_priorities: priority 0's only endpoint answers
// 503 and priority 1's answers 200. Without the retry priority a retry
// goes back to priority 0 (it has all the load); with update_frequency N,
// the retry after every N attempts skips the priorities tried.
func TestRetryPriorityPreviousPriorities(t *testing.T) {
	for _, tc := range []struct {
		name              string
		every, numRetries int
		want              int
		p0Hits            int64 // per request
	}{
		{"no retry priority", 0, 1, 503, 2},
		{"update_frequency 1", 1, 1, 200, 1},
		{"update_frequency 2, 1 retry", 2, 1, 503, 2},
		{"update_frequency 2, 2 retries", 2, 2, 200, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			var failing atomic.Int64
			cl := staticCluster("be", statusBackend(t, 503, &failing), named(t, "backup"))
			cl.Static.Endpoints[1].Priority = 1
			url := serveHTTP(t, s, cl, func(l *config.Listener) {
				action(l).Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: tc.numRetries,
					PreviousPriorities: uint32(tc.every)}
			})
			c := newClient()
			defer c.CloseIdleConnections()
			const n = 20
			for i := range n {
				if code, body, _ := do(t, c, url); code != tc.want {
					t.Fatalf("request %d: %d %q, want %d", i, code, body, tc.want)
				}
			}
			if got := failing.Load(); got != n*tc.p0Hits {
				t.Errorf("priority 0 got %d attempts for %d requests, want %d", got, n, n*tc.p0Hits)
			}
		})
	}
}

// When every priority level has been tried, previous_priorities forgets
// its attempts and starts over from the original load, as Envoy's
// adjustForAttemptedPriorities: with both levels failing and
// update_frequency 1, four attempts go p0, p1, p0, p1 (they went p0, p1,
// p0, p0 while the tried levels were kept).
func TestRetryPriorityStartsOverWhenAllTried(t *testing.T) {
	s := newSidecar(t)
	var p0, p1 atomic.Int64
	cl := staticCluster("be", statusBackend(t, 503, &p0), statusBackend(t, 503, &p1))
	cl.Static.Endpoints[1].Priority = 1
	url := serveHTTP(t, s, cl, func(l *config.Listener) {
		action(l).Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 3, PreviousPriorities: 1}
	})
	c := newClient()
	defer c.CloseIdleConnections()
	const n = 10
	for i := range n {
		if code, body, _ := do(t, c, url); code != 503 {
			t.Fatalf("request %d: %d %q, want the backends' 503", i, code, body)
		}
	}
	if a, b := p0.Load(), p1.Load(); a != 2*n || b != 2*n {
		t.Errorf("attempts: priority 0 %d, priority 1 %d for %d requests, want %d each", a, b, n, 2*n)
	}
}

// A retry budget replaces max_retries (here 0, which allows no retry):
// the retries in flight may reach budget_percent of the requests active
// and pending (1 here), and at least min_retry_concurrency.
func TestRetryBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   *config.RetryBudget
		want     int
		overflow uint64
	}{
		{"max_retries 0, no budget", nil, 503, 1},
		{"Envoy's defaults: at least 3", &config.RetryBudget{Percent: 20, MinConcurrency: 3}, 200, 0},
		{"100% of 1 active", &config.RetryBudget{Percent: 100}, 200, 0},
		{"50% of 1 active rounds to 0", &config.RetryBudget{Percent: 50}, 503, 1},
		{"minimum 1", &config.RetryBudget{MinConcurrency: 1}, 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSidecar(t)
			var n atomic.Int64
			cl := staticCluster("be", flakyBackend(t, &n))
			cl.MaxRetries, cl.RetryBudget = -1, tc.budget
			url := serveHTTP(t, s, cl, func(l *config.Listener) {
				action(l).Retry = &config.RetryPolicy{On: []string{"5xx"}, NumRetries: 1}
			})
			c := newClient()
			defer c.CloseIdleConnections()
			if code, _, ov := do(t, c, url); code != tc.want || ov != "" {
				t.Errorf("%d x-envoy-overloaded=%q, want %d from the backend", code, ov, tc.want)
			}
			st := stats(s, "be")
			waitFor(t, func() bool { return st.RetryOverflow.Load() >= tc.overflow })
			if got := st.RetryOverflow.Load(); got != tc.overflow {
				t.Errorf("upstream_rq_retry_overflow = %d, want %d", got, tc.overflow)
			}
		})
	}
}

// A connect failure at every endpoint of priority 0 (dead before any
// health check could tell) is redispatched to priority 1: no request
// fails, with no retry policy at all.
func TestRedispatchToNextPriority(t *testing.T) {
	s := newSidecar(t)
	cl := staticCluster("be", deadAddr(t), deadAddr(t), named(t, "backup"))
	cl.Static.Endpoints[2].Priority = 1
	url := serveHTTP(t, s, cl, nil)
	c := newClient()
	defer c.CloseIdleConnections()
	for i := range 20 {
		if code, body, _ := do(t, c, url); code != 200 || body != "backup" {
			t.Fatalf("request %d: %d %q, want 200 from the priority 1 endpoint", i, code, body)
		}
	}
}
