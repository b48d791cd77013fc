package consul

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// testTimeout bounds every wait.
const testTimeout = 10 * time.Second

// runSource runs a Source on f until the test ends and returns the channel
// of published catalogs.
func runSource(t *testing.T, f *fakeConsul, all bool) <-chan *discovery.Catalog {
	t.Helper()
	_, ch := startSource(t, f, func(o *Options) { o.WatchAll = all })
	return ch
}

// startSource runs a Source on f, with options edited by edit, until the
// test ends, and returns it with the channel of published catalogs.
func startSource(t *testing.T, f *fakeConsul, edit func(*Options)) (*Source, <-chan *discovery.Catalog) {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = f.srv.Listener.Addr().String()
	opts := Options{Config: cfg, WaitTime: time.Second, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	edit(&opts)
	src, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *discovery.Catalog, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := src.Run(ctx, func(c *discovery.Catalog) { out <- c }); err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return src, out
}

// next waits for the next catalog.
func next(t *testing.T, ch <-chan *discovery.Catalog) *discovery.Catalog {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(testTimeout):
		t.Fatal("no catalog published")
		return nil
	}
}

// healthOf returns the health of the endpoints of service, in order.
func healthOf(t *testing.T, c *discovery.Catalog, service string) []discovery.Health {
	t.Helper()
	s, ok := c.Service(service)
	if !ok {
		t.Fatalf("catalog %s has no service %q", c.Version(), service)
	}
	var out []discovery.Health
	for _, e := range s.Endpoints {
		out = append(out, e.Health)
	}
	return out
}

func TestSourceFollowsHealth(t *testing.T) {
	f := newFakeConsul(t)
	f.update(func() {
		f.services["web"] = []*api.ServiceEntry{
			instance("web", "web1", "127.0.0.1", 9001, api.HealthPassing),
			instance("web", "web2", "127.0.0.1", 9002, api.HealthPassing),
		}
	})
	ch := runSource(t, f, true)
	c := next(t, ch)
	if got := healthOf(t, c, "web"); len(got) != 2 || got[1] != discovery.HealthHealthy {
		t.Fatalf("first catalog: web health %v, want 2 healthy", got)
	}
	f.update(func() { f.services["web"][1] = instance("web", "web2", "127.0.0.1", 9002, api.HealthCritical) })
	c = next(t, ch)
	if got := healthOf(t, c, "web"); got[1] != discovery.HealthUnhealthy {
		t.Errorf("after critical: web health %v, want web2 unhealthy", got)
	}
	// The health query may see the empty service before the service list
	// drops it: an intermediate catalog with web and no endpoints is fine.
	f.update(func() { delete(f.services, "web") })
	nextWhere(t, ch, "web to leave the catalog", func(c *discovery.Catalog) bool {
		_, ok := c.Service("web")
		return !ok
	})
}

// nextWhere waits for a catalog for which cond holds.
func nextWhere(t *testing.T, ch <-chan *discovery.Catalog, what string, cond func(*discovery.Catalog) bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case c := <-ch:
			if cond(c) {
				return
			}
		case <-deadline:
			t.Fatalf("no catalog published with %s", what)
		}
	}
}

func TestSourceKeepsLastGoodOnErrors(t *testing.T) {
	f := newFakeConsul(t)
	f.update(func() {
		f.services["web"] = []*api.ServiceEntry{instance("web", "web1", "127.0.0.1", 9001, api.HealthPassing)}
	})
	ch := runSource(t, f, true)
	first := next(t, ch)
	f.update(func() { f.failing = http.StatusInternalServerError; f.requests = 0 })
	deadline := time.Now().Add(testTimeout)
	for {
		f.mu.Lock()
		n := f.requests
		f.mu.Unlock()
		if n >= 6 { // every query failed and retried at least once
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests while failing", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case c := <-ch:
		t.Fatalf("published %s (%d services) while Consul failed; want the last good %s kept",
			c.Version(), len(c.Services()), first.Version())
	default:
	}
	// Consul comes back restarted: a lower index and new content.
	f.update(func() {
		f.failing = 0
		f.index = 3
		f.services["web"] = append(f.services["web"], instance("web", "web2", "127.0.0.1", 9002, api.HealthPassing))
	})
	c := next(t, ch)
	if got := healthOf(t, c, "web"); len(got) != 2 {
		t.Errorf("after restart with a lower index: %d web endpoints, want 2", len(got))
	}
}

// Without WatchAll, only the services the mesh uses are watched: the
// proxies, what they front and their upstreams.
func TestSourceWatchesWhatTheMeshUses(t *testing.T) {
	f := newFakeConsul(t)
	f.update(func() {
		f.services["web"] = []*api.ServiceEntry{instance("web", "web1", "127.0.0.1", 9001, api.HealthPassing)}
		f.services["db"] = []*api.ServiceEntry{instance("db", "db1", "127.0.0.1", 5432, api.HealthPassing)}
		f.services["unused"] = []*api.ServiceEntry{instance("unused", "u1", "127.0.0.1", 7000, api.HealthPassing)}
		f.services["web-sidecar-proxy"] = []*api.ServiceEntry{proxyEntry("web1-sidecar-proxy", 21000, nil,
			api.Upstream{DestinationName: "db", LocalBindPort: 15432})}
	})
	c := next(t, runSource(t, f, false))
	var got []string
	for _, s := range c.Services() {
		got = append(got, s.Name)
	}
	want := []string{SidecarPrefix + "web1-sidecar-proxy", "db", "web"} // not unused
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("catalog services (-want +got):\n%s", diff)
	}
}

// An upstream in another datacenter is watched there and named "name.dc".
func TestSourceRemoteDatacenterUpstream(t *testing.T) {
	f := newFakeConsul(t)
	remote := instance("web", "web-dc2", "10.2.0.1", 8080, api.HealthPassing)
	remote.Node.Datacenter = "dc2"
	f.update(func() {
		f.services["web@dc2"] = []*api.ServiceEntry{remote}
		f.services["client-sidecar-proxy"] = []*api.ServiceEntry{proxyEntry("client-sidecar-proxy", 21000, nil,
			api.Upstream{DestinationName: "web", Datacenter: "dc2", LocalBindPort: 18080})}
	})
	ch := runSource(t, f, false)
	nextWhere(t, ch, "web.dc2 with its endpoint", func(c *discovery.Catalog) bool {
		s, ok := c.Service("web.dc2")
		return ok && len(s.Endpoints) == 1 && s.Endpoints[0].Address == "10.2.0.1" && s.Datacenter == "dc2"
	})
}
