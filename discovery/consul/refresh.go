package consul

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// refresher fetches the leaf certificate of every sidecar identity with
// plain (non-blocking) queries: every poll interval, at once when the set
// of identities changes or kick is called (new CA roots), at most
// fetchers at a time. A leaf whose serial changed, or that appeared, is
// delivered; a failed fetch keeps the last leaf and is logged. Unlike one
// blocking query per identity, its connections to the agent stay bounded
// whatever the number of sidecars (issue 14).
type refresher struct {
	poll     time.Duration
	fetchers int
	fetch    func(name string) (*api.LeafCert, error)
	deliver  func(name string, lc *api.LeafCert) // nil: the identity is gone
	logger   *slog.Logger
	wake     chan struct{}

	mu     sync.Mutex
	names  []string
	serial map[string]string // last delivered, by name; only run touches it
}

func newRefresher(poll time.Duration, fetchers int, fetch func(string) (*api.LeafCert, error),
	deliver func(string, *api.LeafCert), logger *slog.Logger) *refresher {
	return &refresher{poll: poll, fetchers: fetchers, fetch: fetch, deliver: deliver, logger: logger,
		wake: make(chan struct{}, 1), serial: map[string]string{}}
}

// setNames sets the identities to fetch, waking the refresher if they
// changed. It never blocks.
func (r *refresher) setNames(names []string) {
	slices.Sort(names)
	names = slices.Compact(names)
	r.mu.Lock()
	same := slices.Equal(r.names, names)
	r.names = names
	r.mu.Unlock()
	if !same {
		r.kick()
	}
}

// kick makes the refresher fetch every leaf now. It never blocks.
func (r *refresher) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run fetches until ctx is done.
func (r *refresher) run(ctx context.Context) {
	t := time.NewTicker(r.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
		r.round(ctx)
	}
}

// round fetches every leaf once and delivers those that changed.
func (r *refresher) round(ctx context.Context) {
	r.mu.Lock()
	names := r.names
	r.mu.Unlock()
	for name := range r.serial {
		if !slices.Contains(names, name) {
			delete(r.serial, name)
			r.deliver(name, nil)
		}
	}
	results := make([]*api.LeafCert, len(names))
	parallelN(len(names), r.fetchers, func(i int) {
		if ctx.Err() != nil {
			return
		}
		lc, err := r.fetch(names[i])
		if err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("failed to fetch a leaf certificate, keeping the last one",
					"service", names[i], "err", err)
			}
			return
		}
		results[i] = lc
	})
	for i, lc := range results {
		if lc == nil || lc.SerialNumber == r.serial[names[i]] {
			continue
		}
		r.serial[names[i]] = lc.SerialNumber
		r.deliver(names[i], lc)
	}
}

// parallelN calls f(0) … f(n-1) on up to workers goroutines and returns
// once all have returned.
func parallelN(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, workers) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
