// Package sidecar is the data plane: it turns a spec.Set into running
// listeners, routes and clusters, and swaps configurations without
// dropping connections.
//
// Apply builds a whole new [Snapshot] off the request path and publishes it
// with atomic stores; requests load the configuration once and keep it.
// Per-endpoint state (load, counters, idle connections, keyed by address
// and transport), per-cluster runtimes (the picker in force and the
// observers of outcomes, by name) and statistics live outside snapshots,
// so an update never resets them.
package sidecar

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/filterchain"
	"github.com/meshlb/meshlb/sidecar/h2"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/l4"
	"github.com/meshlb/meshlb/sidecar/l7"
	"github.com/meshlb/meshlb/sidecar/listener"
	"github.com/meshlb/meshlb/sidecar/spec"
	sstats "github.com/meshlb/meshlb/sidecar/stats"
)

// Snapshot is one applied configuration. Immutable.
type Snapshot struct {
	Set      *spec.Set
	Clusters map[string]*cluster.Cluster
	// Listeners are the running listeners by name, with their servers.
	Listeners map[string]*Listener
	Applied   time.Time
	// httpFilters carries HTTP filter state (token buckets) to the next
	// snapshot's build.
	httpFilters *httpfilter.State
	// sources are what each cluster was built from, so that the next build
	// keeps the clusters that did not change.
	sources map[string]clusterSource
}

// Listener is a running listener in a snapshot: its filter chains and
// the handler that selects one for each connection.
type Listener struct {
	Spec spec.Listener
	// Chains are the running filter chains in configuration order, the
	// default chain last.
	Chains  []*Chain
	handler *filterchain.Handler
	// Stats are the listener's downstream_cx_* counters, kept by address
	// across snapshots.
	Stats *sstats.Listener
}

// Chain is a running filter chain: its network filters and exactly one of
// an HTTP and a TCP server, which it may share with the chain of the same
// key in the previous snapshot.
type Chain struct {
	Spec *spec.FilterChain
	HTTP *l7.Server
	// H2 serves the HTTP/2 connections of an HTTP chain whose codec_type
	// is not HTTP1; nil otherwise.
	H2      *h2.Server
	TCP     *l4.Server
	key     string
	filters []filterchain.Filter
	httpCfg *l7.Config
	h2Cfg   *h2.Config
	tcpCfg  *l4.Config
	// transport terminates TLS on the chain's connections; nil: plaintext.
	transport filterchain.Transport
	// localURIs are the URI SANs of the chain's TLS certificate.
	localURIs []string
}

// Sidecar is the data plane. Apply is safe to call from one goroutine at a
// time; the rest is safe for concurrent use.
type Sidecar struct {
	logger    *slog.Logger
	registry  *cluster.Registry
	listeners *listener.Manager
	stats     *statsRegistry
	parker    *l7.Parker // nil where parking is unavailable
	current   atomic.Pointer[Snapshot]
	draining  atomic.Bool
	applyMu   sync.Mutex
	// Guarded by applyMu: what the last applied build leaves to the next
	// (see incremental.go).
	building  buildState
	tables    map[*spec.RouteConfig]compiledTable
	stateRefs map[*cluster.State]int
	ready     chan struct{}
	readyOnce sync.Once
	// tracingOnce says once that tracing is configured but not done.
	tracingOnce sync.Once
	stopReap    chan struct{}
	reaped      chan struct{}
	// logs are the access log sinks, shared by all snapshots; closed
	// after the listeners.
	logs *accesslog.Sinks
	// nodeID and nodeCluster identify gRPC access log streams.
	nodeID, nodeCluster string
	// locality and localCluster drive zone-aware routing (zone.go).
	locality, localCluster string
}

// New returns a sidecar with no configuration.
func New(logger *slog.Logger) *Sidecar {
	parker, err := l7.NewParker()
	if err != nil {
		logger.Warn("idle connections will keep their goroutines", "err", err)
	}
	s := &Sidecar{
		parker:    parker,
		logger:    logger,
		registry:  cluster.NewRegistry(),
		listeners: listener.NewManager(logger),
		stats:     newStatsRegistry(),
		ready:     make(chan struct{}),
		stopReap:  make(chan struct{}),
		reaped:    make(chan struct{}),
	}
	s.logs = accesslog.NewSinks(logger, s.stats.counter)
	s.logs.SetGRPC(s.openGRPCLog)
	s.LimitConnections(0)
	go func() {
		defer close(s.reaped)
		s.registry.Reap(s.stopReap)
	}()
	return s
}

// LimitConnections bounds the downstream connections open on all listeners
// together to n (Envoy's overload_manager global_downstream_max_connections)
// and never above the bound derived from RLIMIT_NOFILE; n <= 0 leaves only
// the latter. Idle pooled upstream connections get an equal bound, so that
// sockets for new upstream dials remain. It must be called before the first
// Apply.
func (s *Sidecar) LimitConnections(n int64) {
	limit := listener.FDConnLimit()
	if n > 0 && (limit == 0 || n < int64(limit)) {
		limit = int(n)
	}
	s.listeners.SetConnLimit(limit)
	s.registry.Idle.SetMax(limit)
	if limit > 0 {
		s.logger.Debug("downstream connections bounded", "limit", limit)
	}
}

// Snapshot returns the configuration in force, or nil before the first
// Apply.
func (s *Sidecar) Snapshot() *Snapshot { return s.current.Load() }

// Ready is closed once a configuration has been applied.
func (s *Sidecar) Ready() <-chan struct{} { return s.ready }

// Apply builds set into a new snapshot and puts it in force. If the set
// cannot be served (a route names a bad regex, a listener cannot bind) it
// returns an error naming the resource and leaves the running
// configuration as it was.
func (s *Sidecar) Apply(set *spec.Set) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	snap, err := s.build(set)
	if err != nil {
		s.abortBuild()
		return err
	}
	var specs []listener.Spec
	for _, spec := range set.Listeners {
		l := snap.Listeners[spec.Name]
		specs = append(specs, listener.Spec{Name: spec.Name, Address: spec.Address, Handler: countedHandler{l.handler, l.Stats},
			Inbound: spec.Inbound})
	}
	if err := s.listeners.Reconcile(specs); err != nil {
		s.abortBuild()
		return err
	}
	prev := s.current.Load()
	for name, c := range snap.Clusters {
		if prev == nil || prev.Clusters[name] != c {
			s.publishCluster(c)
		}
	}
	s.followLocal(snap)
	for _, l := range snap.Listeners {
		l.publish()
	}
	s.current.Store(snap)
	s.commitBuild(prev, snap)
	s.readyOnce.Do(func() { close(s.ready) })
	s.noticeTracing(set)
	s.logger.Info("configuration applied", "listeners", len(snap.Listeners), "clusters", len(snap.Clusters))
	return nil
}

// Draining reports whether Close has begun: the sidecar no longer accepts
// connections and /ready answers 503.
func (s *Sidecar) Draining() bool { return s.draining.Load() }

// Close marks the sidecar draining, stops every listener, waits up to grace
// (Envoy's --drain-time-s) for connections to finish their requests, then
// closes the rest and the idle upstream connections.
func (s *Sidecar) Close(grace time.Duration) {
	s.draining.Store(true)
	s.listeners.Close(grace)
	s.logs.Close()
	if s.parker != nil {
		s.parker.Close()
	}
	close(s.stopReap)
	<-s.reaped
	s.registry.Close()
}

// DrainListeners stops the listeners, or with inboundOnly those of
// traffic direction INBOUND, as Envoy's /drain_listeners: their
// connections drain at once, and they stop accepting at once or, with
// grace > 0, after grace (see [listener.Manager.Stop]). Listeners stay
// stopped across configuration updates.
func (s *Sidecar) DrainListeners(inboundOnly bool, grace time.Duration) {
	s.listeners.Stop(inboundOnly, grace)
}

// Addresses returns the bound address of each listener by name.
func (s *Sidecar) Addresses() map[string]string {
	out := map[string]string{}
	for name, a := range s.listeners.Addresses() {
		out[name] = a.String()
	}
	return out
}

// Counters returns the values of the counters the sidecar keeps by Envoy's
// full stat name, such as listener.<address>.no_filter_chain_match and
// local_ratelimit.<stat_prefix>.rate_limited.
func (s *Sidecar) Counters() map[string]uint64 { return s.stats.counterValues() }

// Histograms returns the histograms kept by Envoy's full stat name (those
// of HTTP filters, such as cluster.<name>.grpc.upstream_rq_time), read now.
func (s *Sidecar) Histograms() map[string]sstats.Snapshot { return s.stats.histograms() }

var (
	_ listener.Handler     = (*filterchain.Handler)(nil)
	_ filterchain.Terminal = (*l7.Server)(nil)
	_ filterchain.Terminal = (*l4.Server)(nil)
)

// noticeTracing logs, once per process, that a listener of set asks for
// tracing, which meshlb accepts (Consul asks for it on every HTTP
// listener) but does not do.
func (s *Sidecar) noticeTracing(set *spec.Set) {
	for _, l := range set.Listeners {
		for _, fc := range l.FilterChains {
			if fc.HTTP != nil && fc.HTTP.Tracing {
				s.tracingOnce.Do(func() {
					s.logger.Info("tracing is configured but meshlb emits no spans; requests are forwarded as usual",
						"listener", l.Name)
				})
				return
			}
		}
	}
}
