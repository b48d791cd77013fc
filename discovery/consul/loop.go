package consul

import (
	"context"
	"log/slog"
	"sync"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// entryKinds are the config entry kinds the source watches.
var entryKinds = []string{api.ServiceDefaults, api.ProxyDefaults,
	api.ServiceRouter, api.ServiceSplitter, api.ServiceResolver}

// loop is the state of one [Source.Run]: the watchers it owns and the last
// good result of each. Only the loop goroutine touches it, except inbox.
type loop struct {
	src     *Source
	publish func(*discovery.Catalog)
	in      *inbox
	wg      sync.WaitGroup // every watcher

	services    map[string][]string // nil until the first service list
	proxies     map[string][]string // connect-proxy services; nil until the first list
	health      map[key][]*api.ServiceEntry
	entries     map[string][]api.ConfigEntry
	watchers    map[key]*running
	gen         uint64
	ready       bool   // a first complete catalog was built
	warnedConns bool   // the connection-limit warning was logged
	version     string // of the last published catalog
}

// running is a started health watcher.
type running struct {
	cancel context.CancelFunc
	gen    uint64
}

func newLoop(s *Source, publish func(*discovery.Catalog)) *loop {
	return &loop{
		src: s, publish: publish, in: newInbox(),
		health:   make(map[key][]*api.ServiceEntry),
		entries:  make(map[string][]api.ConfigEntry),
		watchers: make(map[key]*running),
	}
}

// run starts the catalog and config entry watchers and applies results
// until ctx is done, then stops every watcher and waits for them.
func (l *loop) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer l.wg.Wait()
	defer cancel()
	l.startCatalog(ctx)
	l.startProxies(ctx)
	for _, kind := range entryKinds {
		l.startEntries(ctx, kind)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.in.notify:
			l.apply(ctx)
		}
	}
}

// apply merges the inbox into the state, starts and stops health watchers
// to match, and publishes the catalog if it is complete and changed.
func (l *loop) apply(ctx context.Context) {
	services, proxies, health, entries := l.in.take()
	if services != nil {
		l.services = services
	}
	if proxies != nil {
		l.proxies = proxies
	}
	for kind, e := range entries {
		l.entries[kind] = e
	}
	for k, r := range health {
		if w := l.watchers[k]; w != nil && w.gen == r.gen {
			l.health[k] = r.entries
		}
	}
	l.reconcile(ctx)
	if !l.complete() {
		return
	}
	l.ready = true
	cat := l.build(ctx)
	if cat == nil || cat.Version() == l.version {
		return
	}
	l.version = cat.Version()
	l.src.logger.LogAttrs(ctx, slog.LevelInfo, "catalog changed",
		slog.String("version", cat.Version()), slog.Int("services", len(cat.Services())))
	l.publish(cat)
}

// complete reports whether a catalog may be built: always after the first
// one; before it, once the service list, every config entry kind and the
// health of every listed service have arrived, so that the first catalog
// is not partial.
func (l *loop) complete() bool {
	if l.ready {
		return true
	}
	if l.services == nil || l.proxies == nil || len(l.entries) < len(entryKinds) {
		return false
	}
	for k := range l.watchers {
		if _, ok := l.health[k]; !ok {
			return false
		}
	}
	return true
}

// reconcile starts a health watcher for every wanted service that has none
// and stops those no longer wanted, dropping their results.
func (l *loop) reconcile(ctx context.Context) {
	if l.services == nil || l.proxies == nil {
		return
	}
	want := l.wanted()
	for k, w := range l.watchers {
		if !want[k] {
			w.cancel()
			delete(l.watchers, k)
			delete(l.health, k)
		}
	}
	for k := range want {
		if l.watchers[k] == nil {
			l.startHealth(ctx, k)
		}
	}
	if n := len(l.watchers) + 2 + len(entryKinds); n > connWarning && !l.warnedConns {
		l.warnedConns = true
		l.src.logger.LogAttrs(ctx, slog.LevelWarn, "many concurrent blocking queries to the consul agent; "+
			"raise its limits.http_max_conns_per_client (default 200) above this count",
			slog.Int("queries", n))
	}
}

// connWarning is the number of concurrent blocking queries above which the
// source warns about the agent's per-client connection limit (200 by
// default), leaving room for other clients on the same address.
const connWarning = 150

// build assembles the catalog from the last good results; nil if it is
// invalid, which is logged.
func (l *loop) build(ctx context.Context) *discovery.Catalog {
	b := newBuilder(l.health, l.entries, l.src.opts.WarningAs, l.src.logger)
	cat, err := b.catalog()
	if err != nil {
		l.src.logger.LogAttrs(ctx, slog.LevelError, "failed to build catalog, keeping the last good one",
			slog.Any("err", err))
		return nil
	}
	return cat
}
