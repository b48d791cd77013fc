package consul

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// startWatcher runs w on the loop's wait group, counting its queries.
func startWatcher[T any](ctx context.Context, l *loop, what string, q query[T], deliver func(T, uint64)) {
	w := &watcher[T]{what: what, query: count(&l.src.stats, q), deliver: deliver,
		opts: &l.src.opts, logger: l.src.logger}
	l.wg.Go(func() { w.run(ctx) })
}

// startDatacenter starts the change detectors of datacenter dc ("" is the
// local one): its service list, its checks that are not passing and its
// node list (a node's address is its instances' default), under
// their own context so that reconcile can stop them when no watched
// service is in dc any more.
func (l *loop) startDatacenter(ctx context.Context, dc string) {
	ctx, cancel := context.WithCancel(ctx)
	l.dcs[dc] = cancel
	cat, h := l.src.client.Catalog(), l.src.client.Health()
	startWatcher(ctx, l, inDC("catalog services", dc),
		func(q *api.QueryOptions) (map[string][]string, *api.QueryMeta, error) {
			q.Datacenter = dc
			return cat.Services(q)
		},
		func(s map[string][]string, index uint64) { l.in.putServices(dc, s, index) })
	startWatcher(ctx, l, inDC("checks not passing", dc),
		func(q *api.QueryOptions) (api.HealthChecks, *api.QueryMeta, error) {
			q.Datacenter, q.Filter = dc, notPassingFilter
			return h.State(api.HealthAny, q)
		},
		func(c api.HealthChecks, _ uint64) { l.in.putChecks(dc, c) })
	startWatcher(ctx, l, inDC("catalog nodes", dc),
		func(q *api.QueryOptions) ([]*api.Node, *api.QueryMeta, error) {
			q.Datacenter = dc
			return cat.Nodes(q)
		},
		func(_ []*api.Node, index uint64) { l.in.putNodes(dc, index) })
}

// notPassingFilter selects the checks that are not passing in
// /v1/health/state/any. The query wakes on every change of the checks
// table, yet returns only what is unhealthy: a small answer where the
// unfiltered one is a few hundred bytes per check in the datacenter
// (2.7 MB for 10,000 checks).
const notPassingFilter = `Status != "passing"`

// proxyFilter selects connect-proxy services in /v1/catalog/services.
const proxyFilter = `ServiceKind == "connect-proxy"`

// startProxies starts the watcher of the connect-proxy service names.
func (l *loop) startProxies(ctx context.Context) {
	cat := l.src.client.Catalog()
	startWatcher(ctx, l, "catalog connect-proxy services",
		func(q *api.QueryOptions) (map[string][]string, *api.QueryMeta, error) {
			q.Filter = proxyFilter
			return cat.Services(q)
		}, l.in.putProxies)
}

// startEntries starts the watcher of the config entries of one kind. A
// kind that does not exist yet is an empty list, not an error.
func (l *loop) startEntries(ctx context.Context, kind string) {
	ce := l.src.client.ConfigEntries()
	startWatcher(ctx, l, "config entries "+kind,
		func(q *api.QueryOptions) ([]api.ConfigEntry, *api.QueryMeta, error) { return ce.List(kind, q) },
		func(e []api.ConfigEntry, _ uint64) { l.in.putEntries(kind, e) })
}

func healthWhat(k key) string { return inDC("health "+k.name, k.dc) }

func inDC(what, dc string) string {
	if dc == "" {
		return what
	}
	return fmt.Sprintf("%s in %s", what, dc)
}
