package consul

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"
)

// startCatalog starts the watcher of the service list.
func (l *loop) startCatalog(ctx context.Context) {
	w := &watcher[map[string][]string]{
		what:    "catalog services",
		query:   l.src.client.Catalog().Services,
		deliver: l.in.putServices,
		opts:    &l.src.opts,
		logger:  l.src.logger,
	}
	l.wg.Go(func() { w.run(ctx) })
}

// proxyFilter selects connect-proxy services in /v1/catalog/services.
const proxyFilter = `ServiceKind == "connect-proxy"`

// startProxies starts the watcher of the connect-proxy service names.
func (l *loop) startProxies(ctx context.Context) {
	cat := l.src.client.Catalog()
	w := &watcher[map[string][]string]{
		what: "catalog connect-proxy services",
		query: func(q *api.QueryOptions) (map[string][]string, *api.QueryMeta, error) {
			q.Filter = proxyFilter
			return cat.Services(q)
		},
		deliver: l.in.putProxies,
		opts:    &l.src.opts,
		logger:  l.src.logger,
	}
	l.wg.Go(func() { w.run(ctx) })
}

// startEntries starts the watcher of the config entries of one kind. A
// kind that does not exist yet is an empty list, not an error.
func (l *loop) startEntries(ctx context.Context, kind string) {
	ce := l.src.client.ConfigEntries()
	w := &watcher[[]api.ConfigEntry]{
		what:    "config entries " + kind,
		query:   func(q *api.QueryOptions) ([]api.ConfigEntry, *api.QueryMeta, error) { return ce.List(kind, q) },
		deliver: func(e []api.ConfigEntry) { l.in.putEntries(kind, e) },
		opts:    &l.src.opts,
		logger:  l.src.logger,
	}
	l.wg.Go(func() { w.run(ctx) })
}

// startHealth starts the health watcher of k, under its own context so
// that reconcile can stop it alone.
func (l *loop) startHealth(ctx context.Context, k key) {
	l.gen++
	gen := l.gen
	wctx, cancel := context.WithCancel(ctx)
	l.watchers[k] = &running{cancel: cancel, gen: gen}
	h := l.src.client.Health()
	w := &watcher[[]*api.ServiceEntry]{
		what: healthWhat(k),
		query: func(q *api.QueryOptions) ([]*api.ServiceEntry, *api.QueryMeta, error) {
			q.Datacenter = k.dc
			return h.Service(k.name, "", false, q)
		},
		deliver: func(e []*api.ServiceEntry) { l.in.putHealth(k, healthResult{gen: gen, entries: e}) },
		opts:    &l.src.opts,
		logger:  l.src.logger,
	}
	l.wg.Go(func() { w.run(wctx) })
}

func healthWhat(k key) string {
	if k.dc == "" {
		return "health " + k.name
	}
	return fmt.Sprintf("health %s in %s", k.name, k.dc)
}
