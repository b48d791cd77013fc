package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
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
	logger *slog.Logger
	cache  cache.SnapshotCache
	xds    serverv3.Server

	mu     sync.Mutex        // serializes Update
	nodes  map[string]string // node id → version of its snapshot in cache
	inputs map[string]string // node id → inputVersion its snapshot was built from
}

// New returns a Server with an empty cache. A nil logger discards logs.
func New(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "xds-server")
	lg := cpLogger{logger}
	c := cache.NewSnapshotCache(true, cache.IDHash{}, lg)
	// The server's context is never cancelled: streams end with their gRPC
	// stream context, which [Serve] cancels on shutdown.
	x := serverv3.NewServer(context.Background(), c, callbacks(logger),
		sotw.WithOrderedADS(), sotw.WithLogger(lg))
	return &Server{logger: logger, cache: c, xds: x, nodes: map[string]string{}, inputs: map[string]string{}}
}

// Cache returns the snapshot cache, for tests and admin endpoints. Callers
// must not set snapshots on it behind Update's back.
func (s *Server) Cache() cache.SnapshotCache { return s.cache }

// Register registers the aggregated discovery service (SotW and delta) and
// the per-type CDS, EDS, LDS and RDS services on g.
func (s *Server) Register(g *grpc.Server) {
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
	routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
}

// Update translates cat for every sidecar in it and publishes each snapshot
// whose version changed. Each node is all or nothing: a node whose
// translation fails keeps its previous snapshot, the other nodes are still
// updated, and the errors are returned joined.
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
	var errs []error
	published := 0
	live := make(map[string]bool)
	for _, svc := range cat.Sidecars() {
		live[svc.Sidecar.ID] = true
		changed, err := s.updateNode(ctx, cat, svc)
		if err != nil {
			errs = append(errs, err)
		}
		if changed {
			published++
		}
	}
	cleared := s.clearVanished(live)
	s.logger.LogAttrs(ctx, slog.LevelInfo, "applied catalog", slog.String("version", cat.Version()),
		slog.Int("published", published), slog.Int("cleared", cleared), slog.Int("failed", len(errs)))
	return errors.Join(errs...)
}

// updateNode translates one node and publishes its snapshot if the version
// changed, reporting whether it did. A node whose inputs (see
// [inputVersion]) are those of its published snapshot is not translated
// again. s.mu must be held.
func (s *Server) updateNode(ctx context.Context, cat *discovery.Catalog, svc *discovery.Service) (bool, error) {
	id := svc.Sidecar.ID
	inputs := inputVersion(cat, svc)
	if _, ok := s.nodes[id]; ok && s.inputs[id] == inputs {
		return false, nil
	}
	snap, err := translateService(cat, svc)
	if err != nil {
		return false, err
	}
	version := snap.GetVersion(resource.ClusterType)
	if old, ok := s.nodes[id]; ok && old == version {
		s.inputs[id] = inputs
		return false, nil
	}
	if err := s.cache.SetSnapshot(ctx, id, snap); err != nil {
		return false, fmt.Errorf("setting snapshot for node %q: %w", id, err)
	}
	s.nodes[id], s.inputs[id] = version, inputs
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.LogAttrs(ctx, slog.LevelDebug, "published snapshot",
			slog.String("node", id), slog.String("version", version))
	}
	return true, nil
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
		n++
		s.logger.Info("cleared snapshot", "node", id)
	}
	return n
}

func hasWatches(info cache.StatusInfo) bool {
	return info != nil && info.GetNumWatches()+info.GetNumDeltaWatches() > 0
}
