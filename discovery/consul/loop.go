package consul

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// entryKinds are the config entry kinds the source watches.
var entryKinds = []string{api.ServiceDefaults, api.ProxyDefaults,
	api.ServiceRouter, api.ServiceSplitter, api.ServiceResolver, api.ServiceIntentions}

// loop is the state of one [Source.Run]: its detectors and workers, and
// the last good result of each query. Only the loop goroutine touches it,
// except in, queue and failures.
type loop struct {
	src      *Source
	publish  func(*discovery.Catalog)
	in       *inbox
	queue    *queue
	wg       sync.WaitGroup // every detector and worker
	failures atomic.Int64   // consecutive failed fetches, for logs

	services map[string]names    // by datacenter
	proxies  *names              // nil until the first list
	checks   map[string]checkSet // not passing, by datacenter
	swept    map[string]uint64   // by datacenter: the last services index
	nodeIdx  map[string]uint64   // by datacenter: the last nodes index
	sweeps   map[string]*sweep   // running, by datacenter
	dcs      map[string]context.CancelFunc
	entries  map[string][]api.ConfigEntry
	health   map[key][]*api.ServiceEntry // of wanted services
	index    map[key]uint64              // of each health result
	want     map[key]bool
	local    string       // the agent's datacenter, once a result told it
	missing  int          // wanted services not fetched yet
	stale    bool         // want must be computed again (see reconcile)
	grown    []key        // fetched proxies whose references join want (see extend)
	inflight map[key]bool // queued or being fetched
	dirty    map[key]bool // changed while in flight: fetch again after
	changed  bool         // since the last build
	ready    bool         // a first complete catalog was built
	version  string       // of the last published catalog
	connect  connectState
	built    *discovery.Catalog // the last catalog built, without secrets
}

func newLoop(s *Source, publish func(*discovery.Catalog)) *loop {
	return &loop{
		src: s, publish: publish, in: newInbox(), queue: newQueue(),
		services: make(map[string]names), checks: make(map[string]checkSet),
		swept: make(map[string]uint64), nodeIdx: make(map[string]uint64),
		sweeps: make(map[string]*sweep), dcs: make(map[string]context.CancelFunc),
		entries: make(map[string][]api.ConfigEntry),
		health:  make(map[key][]*api.ServiceEntry), index: make(map[key]uint64),
		inflight: make(map[key]bool), dirty: make(map[key]bool),
	}
}

// run starts the detectors and the workers and applies their results
// until ctx is done, then stops them all and waits for them.
func (l *loop) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer l.wg.Wait()
	defer cancel()
	l.startWorkers(ctx)
	l.startDatacenter(ctx, "")
	l.startProxies(ctx)
	for _, kind := range entryKinds {
		l.startEntries(ctx, kind)
	}
	l.startPolicy(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.in.notify:
			l.apply(ctx)
		}
	}
}

// apply merges the inbox into the state, fetches what changed, and
// publishes the catalog if it is complete and changed.
func (l *loop) apply(ctx context.Context) {
	b := l.in.take()
	secretsChanged := l.applyConnect(ctx, b)
	for kind, e := range b.entries {
		l.entries[kind], l.changed, l.stale = e, true, true
	}
	for k, r := range b.health {
		l.applyHealth(k, r)
	}
	for _, r := range b.sweeps {
		l.applySweep(r)
	}
	for dc := range l.applyNames(b) {
		l.startSweep(dc)
	}
	if touched := l.applyChecks(b.checks); !touched.empty() {
		for k := range l.want {
			if _, fetched := l.health[k]; (fetched || l.inflight[k]) && touched.has(k, l.health[k]) {
				l.refresh(k)
			}
		}
	}
	// After the refreshes, so that what these fetch first is fresh.
	if l.stale {
		l.reconcile(ctx)
	} else if len(l.grown) > 0 {
		l.extend(ctx)
	}
	l.grown = l.grown[:0]
	if !l.complete() || (!l.changed && !secretsChanged) {
		return
	}
	if l.changed || l.built == nil {
		l.ready, l.changed = true, false
		cat := l.build(ctx)
		if cat == nil {
			return
		}
		l.built = cat
		l.syncLeaves(ctx, cat)
	}
	l.offer(ctx)
}

// offer publishes the last built catalog with the current secrets, if
// either changed since the last publish. Secrets are compared by their
// own version and never logged.
func (l *loop) offer(ctx context.Context) {
	cat, sec := l.built, l.secrets()
	if cat.Version() == l.version && sec.Version() == l.connect.secrets.Version() {
		return
	}
	if cat.Version() != l.version {
		l.src.logger.LogAttrs(ctx, slog.LevelInfo, "catalog changed",
			slog.String("version", cat.Version()), slog.Int("services", len(cat.Services())))
	}
	l.version, l.connect.secrets = cat.Version(), sec
	if sec != nil {
		cat = cat.WithSecrets(sec)
	}
	l.publish(cat)
}

// applyHealth takes one fetch result: a failure is queued again (the
// worker waited out its backoff); a success replaces the service's
// health if its index moved.
func (l *loop) applyHealth(k key, r healthResult) {
	if r.err != nil && l.want[k] {
		delete(l.dirty, k)
		l.queue.push(job{k: k, attempt: r.attempt})
		return
	}
	delete(l.inflight, k)
	if r.err == nil && l.want[k] {
		old, ok := l.health[k]
		if !ok {
			l.missing--
		}
		if !ok || l.index[k] != r.index {
			l.health[k], l.index[k], l.changed = r.entries, r.index, true
			l.noteShape(k, old, r.entries)
		}
	}
	if l.dirty[k] {
		delete(l.dirty, k)
		l.refresh(k)
	}
}

// refresh fetches k's health again: now, or after the fetch in flight.
func (l *loop) refresh(k key) {
	if l.inflight[k] {
		l.dirty[k] = true
		return
	}
	l.inflight[k] = true
	l.queue.push(job{k: k})
}

// complete reports whether a catalog may be built: always after the first
// one; before it, once the service lists, the checks, every config entry
// kind and the health of every wanted service have arrived, so that the
// first catalog is not partial.
func (l *loop) complete() bool {
	if l.ready {
		return true
	}
	return l.proxies != nil && len(l.entries) == len(entryKinds) && l.dcReady("") && l.want != nil && l.missing == 0 &&
		l.connectReady()
}

// build assembles the catalog from the last good results; nil if it is
// invalid, which is logged.
func (l *loop) build(ctx context.Context) *discovery.Catalog {
	b := newBuilder(l.health, l.entries, l.src.opts.WarningAs, l.src.logger)
	b.mesh = l.mesh()
	cat, err := b.catalog()
	if err != nil {
		l.src.logger.LogAttrs(ctx, slog.LevelError, "failed to build catalog, keeping the last good one",
			slog.Any("err", err))
		return nil
	}
	return cat
}
