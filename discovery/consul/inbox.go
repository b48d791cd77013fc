package consul

import (
	"sync"

	"github.com/hashicorp/consul/api"
)

// key names one watched service: a service in a datacenter, where "" is
// the agent's own datacenter.
type key struct{ dc, name string }

// names is one result of /v1/catalog/services: service names and tags, at
// the index of the services table.
type names struct {
	services map[string][]string
	index    uint64
}

// healthResult is one fetch of a service's health. A failed fetch has err
// set and is retried by the loop.
type healthResult struct {
	entries []*api.ServiceEntry
	index   uint64
	err     error
	attempt int // of this fetch: 1 for the first
}

// inbox is where detectors and workers leave their results for the loop.
// It keeps only the latest result per query (STYLE 7: latest value wins)
// and wakes the loop through notify, which holds at most one pending
// signal. It is safe for concurrent use; deliveries never block.
type inbox struct {
	notify chan struct{}

	mu       sync.Mutex
	services map[string]names            // by datacenter
	proxies  *names                      // connect-proxy services, local
	checks   map[string]api.HealthChecks // not passing, by datacenter
	nodes    map[string]uint64           // nodes index, by datacenter
	health   map[key]healthResult
	entries  map[string][]api.ConfigEntry // by kind
	sweeps   []sweepResult                // every one, in order
	policy   *agentPolicy
	roots    *api.CARootList
	leaves   map[string]*api.LeafCert // by service
}

func newInbox() *inbox {
	return &inbox{notify: make(chan struct{}, 1)}
}

// batch is everything delivered between two takes.
type batch struct {
	services map[string]names
	proxies  *names
	checks   map[string]api.HealthChecks
	nodes    map[string]uint64
	health   map[key]healthResult
	entries  map[string][]api.ConfigEntry
	sweeps   []sweepResult
	policy   *agentPolicy
	roots    *api.CARootList
	leaves   map[string]*api.LeafCert
}

func (in *inbox) putServices(dc string, s map[string][]string, index uint64) {
	in.put(func() { in.services = putIn(in.services, dc, names{services: orEmpty(s), index: index}) })
}

func (in *inbox) putProxies(s map[string][]string, index uint64) {
	in.put(func() { in.proxies = &names{services: orEmpty(s), index: index} })
}

func (in *inbox) putChecks(dc string, c api.HealthChecks) {
	if c == nil {
		c = api.HealthChecks{}
	}
	in.put(func() { in.checks = putIn(in.checks, dc, c) })
}

func (in *inbox) putNodes(dc string, index uint64) {
	in.put(func() { in.nodes = putIn(in.nodes, dc, index) })
}

func (in *inbox) putHealth(k key, r healthResult) {
	in.put(func() { in.health = putIn(in.health, k, r) })
}

func (in *inbox) putEntries(kind string, e []api.ConfigEntry) {
	if e == nil {
		e = []api.ConfigEntry{}
	}
	in.put(func() { in.entries = putIn(in.entries, kind, e) })
}

func (in *inbox) putSweep(r sweepResult) {
	in.put(func() { in.sweeps = append(in.sweeps, r) })
}

func (in *inbox) putPolicy(p agentPolicy) { in.put(func() { in.policy = &p }) }

func (in *inbox) putRoots(r *api.CARootList) {
	if r != nil {
		in.put(func() { in.roots = r })
	}
}

func (in *inbox) putLeaf(service string, lc *api.LeafCert) {
	in.put(func() { in.leaves = putIn(in.leaves, service, lc) })
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
func (in *inbox) take() batch {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := batch{services: in.services, proxies: in.proxies, checks: in.checks, nodes: in.nodes,
		health: in.health, entries: in.entries, sweeps: in.sweeps, policy: in.policy, roots: in.roots, leaves: in.leaves}
	in.services, in.proxies, in.checks, in.nodes = nil, nil, nil, nil
	in.health, in.entries, in.sweeps = nil, nil, nil
	in.policy, in.roots, in.leaves = nil, nil, nil
	return b
}

// putIn sets m[k] = v, making m if it is nil.
func putIn[K comparable, V any](m map[K]V, k K, v V) map[K]V {
	if m == nil {
		m = make(map[K]V)
	}
	m[k] = v
	return m
}

func orEmpty(s map[string][]string) map[string][]string {
	if s == nil {
		return map[string][]string{}
	}
	return s
}
