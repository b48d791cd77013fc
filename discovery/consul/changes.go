package consul

import (
	"context"

	"github.com/hashicorp/consul/api"
)

// checkSet is one datacenter's checks that are not passing, by node and
// check id.
type checkSet map[string]*api.HealthCheck

// touched names what a change of checks concerns: services, by key, and
// nodes (a node check concerns every instance on its node), by datacenter.
type touched struct {
	services map[key]bool
	nodes    map[string]map[string]bool
}

func (t *touched) mark(dc string, c *api.HealthCheck) {
	if c.ServiceID == "" {
		if t.nodes == nil {
			t.nodes = make(map[string]map[string]bool)
		}
		t.nodes[dc] = putIn(t.nodes[dc], c.Node, true)
		return
	}
	t.services = putIn(t.services, key{dc: dc, name: c.ServiceName}, true)
}

func (t *touched) empty() bool { return len(t.services) == 0 && len(t.nodes) == 0 }

// has reports whether the change concerns k, whose last health is entries.
func (t *touched) has(k key, entries []*api.ServiceEntry) bool {
	if t.services[k] {
		return true
	}
	nodes := t.nodes[k.dc]
	if len(nodes) == 0 {
		return false
	}
	for _, e := range entries {
		if e.Node != nil && nodes[e.Node.Node] {
			return true
		}
	}
	return false
}

// applyNames takes new service lists and node indexes and returns the
// datacenters whose services or nodes index moved after the first: they
// must be swept, since Consul does not say which service changed.
func (l *loop) applyNames(b batch) map[string]bool {
	sweep := make(map[string]bool)
	note := func(m map[string]uint64, dc string, index uint64) {
		if prev, ok := m[dc]; ok && prev != index {
			sweep[dc] = true
		}
		m[dc] = index
	}
	if b.proxies != nil {
		l.proxies, l.stale = b.proxies, true
		note(l.swept, "", b.proxies.index)
	}
	for dc, index := range b.nodes {
		if l.dcs[dc] != nil {
			_, seen := l.nodeIdx[dc]
			l.stale = l.stale || !seen
			note(l.nodeIdx, dc, index)
		}
	}
	for dc, n := range b.services {
		if l.dcs[dc] == nil {
			continue // the last word of a stopped detector
		}
		_, seen := l.services[dc]
		l.services[dc] = n
		l.stale = l.stale || !seen || dc == "" && l.src.opts.WatchAll
		note(l.swept, dc, n.index)
	}
	return sweep
}

// applyChecks takes new sets of checks that are not passing and returns
// what changed since the last set: a check that entered or left the set,
// or changed status. The first set of a datacenter is the baseline its
// services are fetched after, so it changes nothing.
func (l *loop) applyChecks(checks map[string]api.HealthChecks) *touched {
	t := &touched{}
	for dc, list := range checks {
		if l.dcs[dc] == nil {
			continue
		}
		next := make(checkSet, len(list))
		for _, c := range list {
			next[c.Node+"/"+c.CheckID] = c
		}
		prev, seen := l.checks[dc]
		l.checks[dc] = next
		if !seen {
			l.stale = true // dc may be ready: its services can be fetched
			continue
		}
		for id, c := range next {
			if p := prev[id]; p == nil || p.Status != c.Status {
				t.mark(dc, c)
			}
		}
		for id, p := range prev {
			if next[id] == nil {
				t.mark(dc, p)
			}
		}
	}
	return t
}

// dcReady reports whether datacenter dc's detectors have answered, so
// that services fetched from now on are at least as recent as the
// baselines their changes are detected against.
func (l *loop) dcReady(dc string) bool {
	_, names := l.services[dc]
	_, checks := l.checks[dc]
	_, nodes := l.nodeIdx[dc]
	return names && checks && nodes
}

// reconcile updates the wanted services: it drops those no longer wanted,
// runs the detectors of the datacenters in use, and fetches the services
// not fetched yet. It costs a walk of every wanted service, so apply calls
// it only when an input of [loop.wanted] changed (stale), not for every
// fetched service.
func (l *loop) reconcile(ctx context.Context) {
	if l.proxies == nil || !l.dcReady("") {
		return
	}
	l.stale = false
	want := l.wanted()
	for k := range l.want {
		if want[k] {
			continue
		}
		if _, ok := l.health[k]; ok {
			l.changed = true
		}
		delete(l.health, k)
		delete(l.index, k)
		delete(l.dirty, k)
	}
	l.want, l.missing = want, 0
	l.syncDatacenters(ctx)
	for k := range want {
		l.fetchNew(k)
	}
}

// noteShape notes how a new health result of k bears on the wanted
// services: a result that held a connect-proxy before, or the first to
// tell the local datacenter, calls for computing them again (stale); one
// that holds a connect-proxy only now adds what it leads to (grown).
func (l *loop) noteShape(k key, old, entries []*api.ServiceEntry) {
	if k.dc != "" {
		return
	}
	if l.local == "" {
		l.local = localDatacenter(map[key][]*api.ServiceEntry{k: entries})
		l.stale = l.stale || l.local != ""
	}
	switch {
	case hasProxy(old):
		l.stale = true
	case hasProxy(entries):
		l.grown = append(l.grown, k)
	}
}

func hasProxy(entries []*api.ServiceEntry) bool {
	for _, e := range entries {
		if isProxy(e.Service) {
			return true
		}
	}
	return false
}

// extend adds to the wanted services what the grown results lead to, and
// fetches them.
func (l *loop) extend(ctx context.Context) {
	for _, k := range l.grow(l.grown) {
		if l.dcs[k.dc] == nil {
			l.startDatacenter(ctx, k.dc)
		}
		l.fetchNew(k)
	}
}

// fetchNew counts k, a wanted service, as missing if it has no health yet,
// and fetches it once its datacenter is ready.
func (l *loop) fetchNew(k key) {
	if _, ok := l.health[k]; ok {
		return
	}
	l.missing++
	if !l.inflight[k] && l.dcReady(k.dc) {
		l.inflight[k] = true
		l.queue.push(job{k: k})
	}
}

// syncDatacenters starts the detectors of every datacenter a wanted
// service is in, and stops those of the others.
func (l *loop) syncDatacenters(ctx context.Context) {
	need := map[string]bool{"": true}
	for k := range l.want {
		need[k.dc] = true
	}
	for dc := range need {
		if l.dcs[dc] == nil {
			l.startDatacenter(ctx, dc)
		}
	}
	for dc, cancel := range l.dcs {
		if !need[dc] {
			cancel()
			delete(l.dcs, dc)
			delete(l.services, dc)
			delete(l.checks, dc)
			delete(l.swept, dc)
			delete(l.nodeIdx, dc)
			delete(l.sweeps, dc)
		}
	}
}
