package consul

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"
)

// A sweep finds which watched services of a datacenter changed when its
// services or nodes index moved, since Consul lists no per-service index
// (/v1/catalog/services has none, and bexpr filters exclude RaftIndex).
// It lists the nodes, reads the services of each node with their
// ModifyIndex (one query per node, not per service), and fetches the
// health of the services whose instances differ from their last health.
// Where there are at least as many nodes as watched services, it fetches
// every watched service instead.

// sweepResult is the answer to a sweep's job: the node list or the
// services of one node.
type sweepResult struct {
	job      job
	nodes    []*api.Node
	services []*api.AgentService
	err      error
}

// sweep is a running sweep of one datacenter.
type sweep struct {
	nodes     map[string]uint64            // node → ModifyIndex
	pending   map[string]bool              // nodes whose services have not arrived
	instances map[string]map[string]uint64 // service → node/ID → ModifyIndex
	again     bool                         // asked for again while running
	started   time.Time
	refreshed int // services fetched again
}

// startSweep sweeps datacenter dc, or again after the running sweep.
func (l *loop) startSweep(dc string) {
	if s := l.sweeps[dc]; s != nil {
		s.again = true
		return
	}
	l.sweeps[dc] = &sweep{started: time.Now()}
	l.queue.push(job{k: key{dc: dc}, list: true})
}

// applySweep takes one answer of a sweep; a failed job is queued again
// (its worker waited out the backoff).
func (l *loop) applySweep(r sweepResult) {
	dc := r.job.k.dc
	s := l.sweeps[dc]
	switch {
	case s == nil: // the datacenter's detectors were stopped
	case r.err != nil:
		r.job.attempt++
		l.queue.push(r.job)
	case r.job.list:
		l.sweepNodes(dc, s, r.nodes)
	default:
		s.add(r.job.node, r.services)
		delete(s.pending, r.job.node)
		if len(s.pending) == 0 {
			l.finishSweep(dc, s)
		}
	}
}

// sweepNodes queues the services of every node, or, where there are as
// many nodes as watched services, refreshes the watched services.
func (l *loop) sweepNodes(dc string, s *sweep, nodes []*api.Node) {
	wanted := 0
	for k := range l.want {
		if k.dc == dc {
			wanted++
		}
	}
	if len(nodes) >= wanted {
		for k := range l.want {
			if _, fetched := l.health[k]; k.dc == dc && (fetched || l.inflight[k]) {
				l.refresh(k)
				s.refreshed++
			}
		}
		l.endSweep(dc, s)
		return
	}
	s.nodes, s.pending = make(map[string]uint64, len(nodes)), make(map[string]bool, len(nodes))
	s.instances = make(map[string]map[string]uint64)
	for _, n := range nodes {
		s.nodes[n.Node], s.pending[n.Node] = n.ModifyIndex, true
		l.queue.push(job{k: key{dc: dc}, node: n.Node})
	}
	if len(nodes) == 0 {
		l.finishSweep(dc, s)
	}
}

func (s *sweep) add(node string, services []*api.AgentService) {
	for _, svc := range services {
		if s.instances[svc.Service] == nil {
			s.instances[svc.Service] = make(map[string]uint64)
		}
		s.instances[svc.Service][node+"/"+svc.ID] = svc.ModifyIndex
	}
}

// finishSweep fetches the watched services of dc whose instances differ
// from their last health, and those being fetched (they may have been
// read before the change).
func (l *loop) finishSweep(dc string, s *sweep) {
	for k := range l.want {
		if k.dc != dc {
			continue
		}
		if entries, fetched := l.health[k]; l.inflight[k] || fetched && s.differs(k.name, entries) {
			l.refresh(k)
			s.refreshed++
		}
	}
	l.endSweep(dc, s)
}

// differs reports whether service name's instances in the sweep differ
// from entries: added, removed, or modified (their ModifyIndex or their
// node's moved).
func (s *sweep) differs(name string, entries []*api.ServiceEntry) bool {
	inst := s.instances[name]
	if len(inst) != len(entries) {
		return true
	}
	for _, e := range entries {
		if e.Node == nil || e.Service == nil {
			return true
		}
		idx, ok := inst[e.Node.Node+"/"+e.Service.ID]
		if !ok || idx != e.Service.ModifyIndex || s.nodes[e.Node.Node] != e.Node.ModifyIndex {
			return true
		}
	}
	return false
}

func (l *loop) endSweep(dc string, s *sweep) {
	l.src.logger.LogAttrs(context.Background(), slog.LevelDebug, "swept consul for changed services",
		slog.String("datacenter", dc), slog.Int("nodes", len(s.nodes)), slog.Int("refreshed", s.refreshed),
		slog.Duration("took", time.Since(s.started)))
	delete(l.sweeps, dc)
	if s.again {
		l.startSweep(dc)
	}
}
