package consul

import (
	"sync"

	"github.com/hashicorp/consul/api"
)

// key names one watched service: a service in a datacenter, where "" is
// the agent's own datacenter.
type key struct{ dc, name string }

// healthResult is one health query result, tagged with the generation of
// the watcher that produced it so that results of a stopped watcher are
// recognized and dropped.
type healthResult struct {
	gen     uint64
	entries []*api.ServiceEntry
}

// inbox is where watchers leave their results for the loop. It keeps only
// the latest result per query (STYLE 7: latest value wins) and wakes the
// loop through notify, which holds at most one pending signal. It is safe
// for concurrent use; deliveries never block.
type inbox struct {
	notify chan struct{}

	mu       sync.Mutex
	services map[string][]string // nil: no new service list
	proxies  map[string][]string // nil: no new connect-proxy list
	health   map[key]healthResult
	entries  map[string][]api.ConfigEntry // by kind
}

func newInbox() *inbox {
	return &inbox{notify: make(chan struct{}, 1)}
}

func (in *inbox) putServices(s map[string][]string) {
	if s == nil {
		s = map[string][]string{}
	}
	in.put(func() { in.services = s })
}

func (in *inbox) putProxies(s map[string][]string) {
	if s == nil {
		s = map[string][]string{}
	}
	in.put(func() { in.proxies = s })
}

func (in *inbox) putHealth(k key, r healthResult) {
	in.put(func() {
		if in.health == nil {
			in.health = make(map[key]healthResult)
		}
		in.health[k] = r
	})
}

func (in *inbox) putEntries(kind string, e []api.ConfigEntry) {
	in.put(func() {
		if in.entries == nil {
			in.entries = make(map[string][]api.ConfigEntry)
		}
		if e == nil {
			e = []api.ConfigEntry{}
		}
		in.entries[kind] = e
	})
}

func (in *inbox) put(f func()) {
	in.mu.Lock()
	f()
	in.mu.Unlock()
	select {
	case in.notify <- struct{}{}:
	default:
	}
}

// take returns and clears everything delivered since the last take.
func (in *inbox) take() (services, proxies map[string][]string, health map[key]healthResult, entries map[string][]api.ConfigEntry) {
	in.mu.Lock()
	defer in.mu.Unlock()
	services, proxies, health, entries = in.services, in.proxies, in.health, in.entries
	in.services, in.proxies, in.health, in.entries = nil, nil, nil, nil
	return services, proxies, health, entries
}
