package consul

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// job is one service to fetch; attempt counts its consecutive tries.
type job struct {
	k       key
	attempt int
}

// queue holds the services waiting for a worker, first in first out. It
// is safe for concurrent use; push never blocks.
type queue struct {
	avail chan struct{} // holds a signal while jobs are waiting

	mu   sync.Mutex
	jobs []job
}

func newQueue() *queue { return &queue{avail: make(chan struct{}, 1)} }

func (q *queue) push(j job) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.avail <- struct{}{}:
	default:
	}
}

// pop returns the next job, waiting for one until ctx is done.
func (q *queue) pop(ctx context.Context) (job, bool) {
	for {
		q.mu.Lock()
		if len(q.jobs) > 0 {
			j := q.jobs[0]
			q.jobs[0] = job{}
			q.jobs = q.jobs[1:]
			more := len(q.jobs) > 0
			q.mu.Unlock()
			if more {
				q.signal() // wake the next worker
			}
			return j, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return job{}, false
		case <-q.avail:
		}
	}
}

// fetchTimeout bounds one plain (non-blocking) query.
const fetchTimeout = 30 * time.Second

// startWorkers starts the pool that fetches the health of queued services
// and delivers every result, failed or not, to the inbox.
func (l *loop) startWorkers(ctx context.Context) {
	h := l.src.client.Health()
	for range l.src.opts.workers() {
		l.wg.Go(func() {
			for {
				j, ok := l.queue.pop(ctx)
				if !ok {
					return
				}
				l.in.putHealth(j.k, l.fetch(ctx, h, j))
			}
		})
	}
}

// fetch reads the health of j's service once. A failure is waited out
// with backoff here, so that the loop can queue it again at once. Failures
// are logged for the pool as a whole, not per service: the first of a run
// of failures, then its end.
func (l *loop) fetch(ctx context.Context, h *api.Health, j job) healthResult {
	l.src.stats.fetches.Add(1)
	q := count(&l.src.stats, func(o *api.QueryOptions) ([]*api.ServiceEntry, *api.QueryMeta, error) {
		o.Datacenter = j.k.dc
		return h.Service(j.k.name, "", false, o)
	})
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	entries, meta, err := q((&api.QueryOptions{}).WithContext(fctx))
	attempt := j.attempt + 1
	if err != nil {
		if ctx.Err() == nil {
			logFailure(ctx, l.src.logger, healthWhat(j.k), int(l.failures.Add(1)), err)
			sleep(ctx, backoff(attempt, l.src.opts.minBackoff(), l.src.opts.maxBackoff()))
		}
		return healthResult{err: err, attempt: attempt}
	}
	if n := l.failures.Swap(0); n > 0 {
		l.src.logger.LogAttrs(ctx, slog.LevelInfo, "consul query recovered",
			slog.String("query", healthWhat(j.k)), slog.Int64("failures", n))
	}
	return healthResult{entries: entries, index: meta.LastIndex, attempt: attempt}
}
