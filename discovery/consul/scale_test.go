package consul

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/meshlb/meshlb/discovery"
)

// withServices registers n services "svc-N" with one passing instance each.
func withServices(f *fakeConsul, n int) {
	f.update(func() {
		for i := range n {
			name := fmt.Sprintf("svc-%d", i)
			f.services[name] = []*api.ServiceEntry{instance(name, name+"-1", "127.0.0.1", 9000+i, api.HealthPassing)}
		}
	})
}

// A check that turns critical is fetched for its service alone: the
// services index did not move, so nothing else is fetched again.
func TestSourceCheckChangeFetchesItsServiceOnly(t *testing.T) {
	f := newFakeConsul(t)
	withServices(f, 20)
	ch := runSource(t, f, true)
	next(t, ch)
	before := map[string]int{"svc-3": f.count("/v1/health/service/svc-3"), "svc-4": f.count("/v1/health/service/svc-4")}
	f.updateChecks(func() { f.services["svc-3"][0].Checks[0].Status = api.HealthCritical })
	c := next(t, ch)
	if got := healthOf(t, c, "svc-3"); got[0] != discovery.HealthUnhealthy {
		t.Fatalf("svc-3 health %v after its check turned critical, want unhealthy", got)
	}
	f.updateChecks(func() { f.services["svc-3"][0].Checks[0].Status = api.HealthPassing })
	c = next(t, ch)
	if got := healthOf(t, c, "svc-3"); got[0] != discovery.HealthHealthy {
		t.Fatalf("svc-3 health %v after its check passed again, want healthy", got)
	}
	if got := f.count("/v1/health/service/svc-3") - before["svc-3"]; got != 2 {
		t.Errorf("svc-3 fetched %d times for two flips, want 2", got)
	}
	if got := f.count("/v1/health/service/svc-4") - before["svc-4"]; got != 0 {
		t.Errorf("svc-4 fetched %d times while only svc-3 changed, want 0", got)
	}
}

// A node check concerns every instance on its node.
func TestSourceNodeCheckFetchesTheNodesServices(t *testing.T) {
	f := newFakeConsul(t)
	withServices(f, 3)
	ch := runSource(t, f, true)
	next(t, ch)
	f.updateChecks(func() {
		for _, entries := range f.services { // all on node n1
			entries[0].Checks = append(entries[0].Checks,
				&api.HealthCheck{CheckID: "serfHealth", Node: "n1", Status: api.HealthCritical})
		}
	})
	nextWhere(t, ch, "every service unhealthy", func(c *discovery.Catalog) bool {
		for _, name := range []string{"svc-0", "svc-1", "svc-2"} {
			if s, _ := c.Service(name); s.Endpoints[0].Health != discovery.HealthUnhealthy {
				return false
			}
		}
		return true
	})
}

// With many services the source holds a fixed number of requests in
// flight: its blocking queries and its workers, not one per service.
func TestSourceConnectionsStayBounded(t *testing.T) {
	f := newFakeConsul(t)
	withServices(f, 300)
	_, ch := startSource(t, f, func(o *Options) { o.WatchAll, o.Workers = true, 4 })
	c := next(t, ch)
	if n := len(c.Services()); n != 300 {
		t.Fatalf("first catalog has %d services, want 300", n)
	}
	f.update(func() { f.services["svc-7"][0].Service.Port = 7 }) // a sweep
	nextWhere(t, ch, "svc-7 on its new port", func(c *discovery.Catalog) bool {
		s, _ := c.Service("svc-7")
		return s.Endpoints[0].Port == 7
	})
	f.mu.Lock()
	got := f.maxConns
	f.mu.Unlock()
	if want := 4 + len(entryKinds) + 4; got > want {
		t.Errorf("%d requests in flight at most, want at most %d", got, want)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use, for logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An agent that refuses requests for a limit (429) is an error in the
// log, counted in Stats, and the last good catalog stays.
func TestSourceRateLimitedIsAnError(t *testing.T) {
	f := newFakeConsul(t)
	withServices(f, 3)
	var logs lockedBuffer
	src, ch := startSource(t, f, func(o *Options) {
		o.WatchAll = true
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	next(t, ch)
	f.update(func() { f.failing = http.StatusTooManyRequests })
	deadline := time.Now().Add(testTimeout)
	for !strings.Contains(logs.String(), "level=ERROR") || src.Stats().RateLimited == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no error logged for 429 (stats %+v); logs:\n%s", src.Stats(), logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "limits.http_max_conns_per_client") {
		t.Errorf("the error does not name the limit:\n%s", logs.String())
	}
	select {
	case c := <-ch:
		t.Errorf("published %s (%d services) while rate limited; want the last good kept", c.Version(), len(c.Services()))
	default:
	}
}

// A change of the services table is found by a sweep over the nodes: only
// the service that changed is fetched again, or every one where there are
// as many nodes as services.
func TestSourceSweep(t *testing.T) {
	tests := []struct {
		name      string
		nodes     int // services are spread over them
		refetched int // fetches of an unchanged service
	}{
		{"one node", 1, 0},
		{"a node per service", 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeConsul(t)
			withServices(f, 20)
			f.update(func() {
				for i := range 20 {
					f.services[fmt.Sprintf("svc-%d", i)][0].Node = &api.Node{Node: fmt.Sprintf("n%d", i%tt.nodes),
						Address: "127.0.0.1", Datacenter: "dc1"}
				}
			})
			ch := runSource(t, f, true)
			next(t, ch)
			before := f.count("/v1/health/service/svc-4")
			f.update(func() { f.services["svc-7"][0].Service.Port = 7 })
			nextWhere(t, ch, "svc-7 on its new port", func(c *discovery.Catalog) bool {
				s, _ := c.Service("svc-7")
				return s.Endpoints[0].Port == 7
			})
			// A refetch of svc-4 may land after the catalog with svc-7.
			deadline := time.Now().Add(testTimeout)
			for f.count("/v1/health/service/svc-4")-before < tt.refetched && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := f.count("/v1/health/service/svc-4") - before; got != tt.refetched {
				t.Errorf("svc-4 fetched %d times after svc-7 changed, want %d", got, tt.refetched)
			}
		})
	}
}
