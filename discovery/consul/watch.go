package consul

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/consul/api"
)

// query runs one Consul blocking query with q (WaitIndex, WaitTime and the
// watcher's context already set) and returns its result and metadata.
type query[T any] func(q *api.QueryOptions) (T, *api.QueryMeta, error)

// watcher runs one blocking query in a loop and hands every new result,
// with its index, to deliver. It is owned by the [Source] loop that started
// it.
type watcher[T any] struct {
	what    string // for logs: "catalog services", "config entries ...", ...
	query   query[T]
	deliver func(T, uint64) // must not block
	opts    *Options
	logger  *slog.Logger
}

// run queries until ctx is done. A result is delivered when the index moved
// (or was reset); a blocking query that timed out with the same index is
// not. Errors are logged and retried after [backoff]; nothing is delivered
// for them, so the owner keeps its last good value.
func (w *watcher[T]) run(ctx context.Context) {
	var index uint64
	failures := 0
	for ctx.Err() == nil {
		v, meta, err := w.once(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			logFailure(ctx, w.logger, w.what, failures, err)
			sleep(ctx, backoff(failures, w.opts.minBackoff(), w.opts.maxBackoff()))
			continue
		}
		if failures > 0 {
			w.logger.LogAttrs(ctx, slog.LevelInfo, "consul query recovered",
				slog.String("query", w.what), slog.Int("failures", failures))
			failures = 0
		}
		next := nextIndex(index, meta.LastIndex)
		if index != 0 && next == index {
			continue // the wait timed out; nothing changed
		}
		if next == 0 {
			w.logger.LogAttrs(ctx, slog.LevelWarn, "consul index went backwards, resetting",
				slog.String("query", w.what), slog.Uint64("index", index),
				slog.Uint64("got", meta.LastIndex))
		}
		index = next
		w.deliver(v, meta.LastIndex)
	}
}

// once runs one query. Its context also expires a little after the
// longest the agent may hold it (WaitTime plus Consul's jitter of up to
// WaitTime/16), so a connection that died silently cannot stall the
// watcher.
func (w *watcher[T]) once(ctx context.Context, index uint64) (T, *api.QueryMeta, error) {
	wait := w.opts.waitTime()
	ctx, cancel := context.WithTimeout(ctx, wait+wait/16+queryGrace)
	defer cancel()
	return w.query((&api.QueryOptions{WaitIndex: index, WaitTime: wait}).WithContext(ctx))
}

// queryGrace is how much longer than its wait a blocking query may take.
const queryGrace = 10 * time.Second

// logFailure logs a failed query: the first failure of a run of failures
// at Warn, later ones at Debug, so an unreachable Consul does not flood
// logs. A request the agent refused for a limit (429) is an Error that
// names the limit: the catalog stops following Consul until it passes.
func logFailure(ctx context.Context, logger *slog.Logger, what string, failures int, err error) {
	level := slog.LevelDebug
	if failures == 1 {
		level = slog.LevelWarn
	}
	msg := "failed to query consul, keeping the last good result"
	if rateLimited(err) {
		if failures == 1 {
			level = slog.LevelError
		}
		msg = "failed to query consul: the agent refused the request for a limit " +
			"(limits.http_max_conns_per_client?), keeping the last good result"
	}
	logger.LogAttrs(ctx, level, msg, slog.String("query", what), slog.Int("failures", failures), slog.Any("err", err))
}

// nextIndex returns the WaitIndex for the query after one that returned got
// when last was sent. An index that went backwards (Consul restarted, or a
// snapshot restored) resets to 0, which makes the next query return at
// once with fresh data; an index of 0 becomes 1 so that a result without an
// index cannot make the loop spin. See
// https://developer.hashicorp.com/consul/api-docs/features/blocking#implementation-details
func nextIndex(last, got uint64) uint64 {
	switch {
	case got < last:
		return 0
	case got == 0:
		return 1
	default:
		return got
	}
}

// backoff returns how long to wait after the n-th consecutive failure (n
// >= 1): min doubled n-1 times, capped at max, with "equal jitter" (half
// fixed, half random) so that many watchers failing together do not retry
// in lockstep.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
