package sidecar

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/l4"
	"github.com/meshlb/meshlb/sidecar/l7"
	"github.com/meshlb/meshlb/sidecar/listener"
	sstats "github.com/meshlb/meshlb/sidecar/stats"
)

// statsRegistry keeps statistics by name across snapshots, as Envoy keeps
// its stats store across configuration updates.
type statsRegistry struct {
	mu       sync.Mutex
	clusters map[string]*cluster.Stats
	https    map[string]*l7.Stats
	tcps     map[string]*l4.Stats
	counters map[string]*atomic.Uint64    // by Envoy's full stat name
	hists    map[string]*sstats.Histogram // by Envoy's full stat name
	listens  map[string]*sstats.Listener  // by address
}

func newStatsRegistry() *statsRegistry {
	return &statsRegistry{clusters: map[string]*cluster.Stats{}, https: map[string]*l7.Stats{}, tcps: map[string]*l4.Stats{}, counters: map[string]*atomic.Uint64{}, hists: map[string]*sstats.Histogram{}, listens: map[string]*sstats.Listener{}}
}

func getOrNew[T any](mu *sync.Mutex, m map[string]*T, name string) *T {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[name]
	if !ok {
		v = new(T)
		m[name] = v
	}
	return v
}

func (r *statsRegistry) cluster(name string) *cluster.Stats {
	return getOrNew(&r.mu, r.clusters, name)
}

func (r *statsRegistry) http(prefix string) *l7.Stats { return getOrNew(&r.mu, r.https, prefix) }

func (r *statsRegistry) listener(addr string) *sstats.Listener {
	return getOrNew(&r.mu, r.listens, addr)
}

func (r *statsRegistry) tcp(prefix string) *l4.Stats { return getOrNew(&r.mu, r.tcps, prefix) }

// counter returns the counter named name (Envoy's full stat name, such as
// "local_ratelimit.in.rate_limited"), created at zero on first use.
func (r *statsRegistry) counter(name string) *atomic.Uint64 {
	return getOrNew(&r.mu, r.counters, name)
}

// histogram returns the histogram named name (Envoy's full stat name,
// such as "cluster.web.grpc.upstream_rq_time"), created empty on first use.
func (r *statsRegistry) histogram(name string) *sstats.Histogram {
	return getOrNew(&r.mu, r.hists, name)
}

// histograms returns the histograms kept by full name, read now.
func (r *statsRegistry) histograms() map[string]sstats.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]sstats.Snapshot, len(r.hists))
	for name, h := range r.hists {
		out[name] = h.Read()
	}
	return out
}

func (r *statsRegistry) counterValues() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]uint64, len(r.counters))
	for name, c := range r.counters {
		out[name] = c.Load()
	}
	return out
}

// countedHandler counts a listener's connections
// (listener.<address>.downstream_cx_*) around its handler.
type countedHandler struct {
	h  listener.Handler
	st *sstats.Listener
}

func (c countedHandler) ServeConn(ctx context.Context, conn net.Conn) {
	c.st.CxTotal.Add(1)
	c.st.CxActive.Add(1)
	start := time.Now()
	defer func() {
		c.st.CxLength.Record(time.Since(start))
		c.st.CxActive.Add(-1)
		c.st.CxDestroy.Add(1)
	}()
	c.h.ServeConn(ctx, conn)
}
