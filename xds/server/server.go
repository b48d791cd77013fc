package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/meshlb/meshlb/discovery"
)

// Server publishes one snapshot per sidecar into a go-control-plane
// [cache.SnapshotCache] in ADS mode and serves it over gRPC. A sidecar
// (meshlb or stock Envoy) connects with node.id set to its sidecar id.
//
// A Server is safe for concurrent use and must not be copied; create one
// with [New].
type Server struct {
	logger  *slog.Logger
	cache   cache.SnapshotCache
	xds     serverv3.Server
	metrics *metrics
	ready   atomic.Bool
	noRBAC  atomic.Bool // intentions not enforced

	auth        atomic.Pointer[authorizer] // nil: no authentication
	authStreams authStreams
	idMu        sync.Mutex
	identities  map[string]string // node id → the service it proxies for

	mu    sync.Mutex        // serializes Update
	frags *fragments        // resources shared between nodes
	nodes map[string]string // node id → snapshotVersion of its snapshot in cache
	// reads and inputs are, by node id, what its snapshot's translation
	// read from the catalog and the version of that ([inputs.version]).
	reads  map[string]inputs
	inputs map[string]string
}

// New returns a Server with an empty cache. A nil logger discards logs.
func New(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "xds-server")
	lg := cpLogger{logger}
	c := cache.NewSnapshotCache(true, cache.IDHash{}, lg)
	m := newMetrics()
	// The server's context is never cancelled: streams end with their gRPC
	// stream context, which [Serve] cancels on shutdown.
	s := &Server{logger: logger, cache: c, metrics: m, frags: newFragments(),
		nodes: map[string]string{}, reads: map[string]inputs{}, inputs: map[string]string{}}
	s.xds = serverv3.NewServer(context.Background(), c, callbacks(logger, m, s),
		sotw.WithOrderedADS(), sotw.WithLogger(lg))
	return s
}

// EnforceIntentions says whether the public listeners of a mesh with
// mTLS enforce its intentions with network and HTTP RBAC filters. It is on
// by default, so a mesh is secure by default; turn it off only for
// sidecars without RBAC filters. Call it before the first Update.
func (s *Server) EnforceIntentions(on bool) { s.noRBAC.Store(!on) }

// Cache returns the snapshot cache, for tests and admin endpoints. Callers
// must not set snapshots on it behind Update's back.
func (s *Server) Cache() cache.SnapshotCache { return s.cache }

// Collectors returns the server's Prometheus metrics: open streams,
// responses and NACKs by type, push latency, snapshot build time, and
// translation counts. Register them once.
func (s *Server) Collectors() []prometheus.Collector { return s.metrics.collectors() }

// Ready reports whether a catalog has been applied, so its sidecars (all
// but those whose translation failed) have snapshots to fetch.
func (s *Server) Ready() bool { return s.ready.Load() }

// Register registers the aggregated discovery service (SotW and delta) and
// the per-type CDS, EDS, LDS and RDS services on g.
func (s *Server) Register(g *grpc.Server) {
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
	routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
}

// Update translates cat for every sidecar whose catalog inputs changed,
// spread over GOMAXPROCS goroutines, and publishes each snapshot whose
// version changed. Resources shared between nodes are built once (see
// [fragments]). Each node is all or nothing: a node whose translation fails
// keeps its previous snapshot, the other nodes are still updated, and the
// errors are returned joined.
//
// Nodes no longer in cat are removed from the cache, except while they
// still have open watches: go-control-plane's ClearSnapshot also forgets a
// node's watches, which would leave a connected sidecar waiting forever if
// its node came back. Such a node keeps its last snapshot (as a sidecar
// keeps its last good config) and is removed by a later Update once it has
// disconnected.
func (s *Server) Update(ctx context.Context, cat *discovery.Catalog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	jobs, live := s.staleNodes(cat)
	s.setIdentities(cat)
	results := make([]nodeResult, len(jobs))
	parallel(len(jobs), func(i int) { results[i] = s.translateNode(ctx, cat, jobs[i], start) })
	var errs []error
	published := 0
	for i, r := range results {
		id := jobs[i].svc.Sidecar.ID
		if r.err != nil {
			errs = append(errs, r.err)
			delete(s.inputs, id)
			delete(s.reads, id) // tried again on the next update
			continue
		}
		s.nodes[id], s.reads[id], s.inputs[id] = r.version, r.reads, r.reads.version(cat)
		if r.published {
			published++
		}
	}
	size, built := s.frags.sweep(cat)
	cleared := s.clearVanished(live)
	s.record(len(jobs), published, len(errs), size, built, time.Since(start))
	s.logger.LogAttrs(ctx, slog.LevelInfo, "applied catalog", slog.String("version", cat.Version()),
		slog.Int("translated", len(jobs)), slog.Int("published", published), slog.Int("cleared", cleared),
		slog.Int("failed", len(errs)), slog.Int("built", built), slog.Duration("took", time.Since(start)))
	return errors.Join(errs...)
}

// nodeJob is a node to translate.
type nodeJob struct {
	svc *discovery.Service
}

// nodeResult is the outcome of translating one node.
type nodeResult struct {
	version   string // snapshotVersion of the node's snapshot in cache
	published bool   // a new snapshot was set
	reads     inputs // what the translation read
	err       error
}

// staleNodes returns the sidecars of cat whose inputs (what translating
// them read, see [reads]) changed since their published snapshot, and the
// ids of all of cat's sidecars. s.mu must be held.
func (s *Server) staleNodes(cat *discovery.Catalog) ([]nodeJob, map[string]bool) {
	live := make(map[string]bool)
	var jobs []nodeJob
	for _, svc := range cat.Sidecars() {
		id := svc.Sidecar.ID
		live[id] = true
		if v, ok := s.inputs[id]; ok && s.reads[id].version(cat) == v {
			continue
		}
		jobs = append(jobs, nodeJob{svc: svc})
	}
	return jobs, live
}

// translateNode translates one node and publishes its snapshot if the
// version changed. It runs concurrently with other nodes' translateNode;
// s.mu must be held by the caller, which alone writes s.nodes.
func (s *Server) translateNode(ctx context.Context, cat *discovery.Catalog, job nodeJob, start time.Time) nodeResult {
	id := job.svc.Sidecar.ID
	prev := s.published(id)
	snap, reads, err := translateService(cat, job.svc, s.frags, prev, !s.noRBAC.Load())
	if err != nil {
		return nodeResult{err: err}
	}
	version := snapshotVersion(snap)
	if prev != nil && s.nodes[id] == version {
		return nodeResult{version: version, reads: reads}
	}
	// Push latency counts changes to nodes that have connected; a node's
	// first snapshot, or one it has yet to ask for, is not a push.
	if prev != nil && s.cache.GetStatusInfo(id) != nil {
		for _, url := range typeURLs {
			if prev.GetVersion(url) != snap.GetVersion(url) {
				s.metrics.pending.changed(id, url, start)
			}
		}
	}
	if err := s.cache.SetSnapshot(ctx, id, snap); err != nil {
		return nodeResult{err: fmt.Errorf("setting snapshot for node %q: %w", id, err)}
	}
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.LogAttrs(ctx, slog.LevelDebug, "published snapshot",
			slog.String("node", id), slog.String("version", version))
	}
	return nodeResult{version: version, published: true, reads: reads}
}

// published returns the snapshot of node in cache, or nil if it has none
// that Update set.
func (s *Server) published(node string) *cache.Snapshot {
	if _, ok := s.nodes[node]; !ok {
		return nil
	}
	snap, err := s.cache.GetSnapshot(node)
	if err != nil {
		return nil
	}
	prev, _ := snap.(*cache.Snapshot)
	return prev
}

// record updates the metrics of one Update.
func (s *Server) record(translated, published, failed, fragments, built int, took time.Duration) {
	m := s.metrics
	m.updates.Inc()
	m.translated.Add(float64(translated))
	m.published.Add(float64(published))
	m.errors.Add(float64(failed))
	m.fragments.Set(float64(fragments))
	m.built.Add(float64(built))
	m.buildSeconds.Observe(took.Seconds())
	s.ready.Store(true)
}

// parallel calls f(0) … f(n-1) on up to GOMAXPROCS goroutines and returns
// once all calls have returned.
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

// clearVanished removes the snapshots of nodes not in live that have no
// open watches and returns how many it removed. s.mu must be held.
func (s *Server) clearVanished(live map[string]bool) int {
	watched := make(map[string]bool)
	for _, id := range s.cache.GetStatusKeys() {
		watched[id] = true
	}
	n := 0
	for id := range s.nodes {
		if live[id] || (watched[id] && hasWatches(s.cache.GetStatusInfo(id))) {
			continue
		}
		s.cache.ClearSnapshot(id)
		delete(s.nodes, id)
		delete(s.inputs, id)
		s.metrics.pending.forget(id)
		n++
		s.logger.Info("cleared snapshot", "node", id)
	}
	return n
}

func hasWatches(info cache.StatusInfo) bool {
	return info != nil && info.GetNumWatches()+info.GetNumDeltaWatches() > 0
}

// setIdentities records the service each node of cat proxies for, for
// the Authorizer.
func (s *Server) setIdentities(cat *discovery.Catalog) {
	ids := make(map[string]string)
	for _, svc := range cat.Sidecars() {
		ids[svc.Sidecar.ID] = svc.SidecarIdentity()
	}
	s.idMu.Lock()
	s.identities = ids
	s.idMu.Unlock()
}
