package consul

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// job is one query for a worker: the health of service k; or, for a
// sweep of datacenter k.dc, its node list (list) or the services of one
// of its nodes (node). attempt counts its consecutive failed tries.
type job struct {
	k       key
	list    bool
	node    string
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

// startWorkers starts the pool that runs queued jobs and delivers every
// result, failed or not, to the inbox.
func (l *loop) startWorkers(ctx context.Context) {
	for range l.src.opts.workers() {
		l.wg.Go(func() {
			for {
				j, ok := l.queue.pop(ctx)
				if !ok {
					return
				}
				l.work(ctx, j)
			}
		})
	}
}

// work runs job j once and delivers its result.
func (l *loop) work(ctx context.Context, j job) {
	var r healthResult
	switch {
	case j.list:
		var nodes []*api.Node
		r.err = l.try(ctx, j, inDC("catalog nodes", j.k.dc), func(q *api.QueryOptions) (*api.QueryMeta, error) {
			var err error
			nodes, _, err = l.src.client.Catalog().Nodes(q)
			return nil, err
		})
		l.in.putSweep(sweepResult{job: j, nodes: nodes, err: r.err})
	case j.node != "":
		var list *api.CatalogNodeServiceList
		r.err = l.try(ctx, j, inDC("services of node "+j.node, j.k.dc), func(q *api.QueryOptions) (*api.QueryMeta, error) {
			var err error
			list, _, err = l.src.client.Catalog().NodeServiceList(j.node, q)
			return nil, err
		})
		res := sweepResult{job: j, err: r.err}
		if list != nil {
			res.services = list.Services
		}
		l.in.putSweep(res)
	default:
		l.src.stats.fetches.Add(1)
		var meta *api.QueryMeta
		r.err = l.try(ctx, j, healthWhat(j.k), func(q *api.QueryOptions) (*api.QueryMeta, error) {
			var err error
			r.entries, meta, err = l.src.client.Health().Service(j.k.name, "", false, q)
			return meta, err
		})
		if r.err == nil {
			r.index = meta.LastIndex
		}
		r.attempt = j.attempt + 1
		l.in.putHealth(j.k, r)
	}
}

// try runs query q for job j once, in j's datacenter. A failure is waited
// out with backoff here, so that the loop can queue the job again at once.
// Failures are logged for the pool as a whole, not per job: the first of
// a run of failures, then its end.
func (l *loop) try(ctx context.Context, j job, what string, q func(*api.QueryOptions) (*api.QueryMeta, error)) error {
	counted := count(&l.src.stats, func(o *api.QueryOptions) (struct{}, *api.QueryMeta, error) {
		o.Datacenter = j.k.dc
		meta, err := q(o)
		return struct{}{}, meta, err
	})
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	_, _, err := counted((&api.QueryOptions{}).WithContext(fctx))
	if err != nil {
		if ctx.Err() == nil {
			logFailure(ctx, l.src.logger, what, int(l.failures.Add(1)), err)
			sleep(ctx, backoff(j.attempt+1, l.src.opts.minBackoff(), l.src.opts.maxBackoff()))
		}
		return err
	}
	if n := l.failures.Swap(0); n > 0 {
		l.src.logger.LogAttrs(ctx, slog.LevelInfo, "consul query recovered",
			slog.String("query", what), slog.Int64("failures", n))
	}
	return nil
}
