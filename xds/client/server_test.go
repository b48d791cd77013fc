package client

import (
	"context"
	"net"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// request is what the server saw of one DiscoveryRequest or
// DeltaDiscoveryRequest.
type request struct {
	gen       int // which server (start count) got it
	typeURL   string
	version   string   // SotW version_info
	names     []string // SotW resource_names, Delta resource_names_subscribe
	unsub     []string
	initial   map[string]string
	nonce     string
	errDetail string
	node      *corev3.Node
}

// response is what the server sent.
type response struct {
	typeURL, version, nonce string // version: version_info or system_version_info
}

// xdsServer is a real go-control-plane ADS server (SotW and Delta) on a
// loopback port, recording requests and responses through its callbacks.
type xdsServer struct {
	cache cache.SnapshotCache
	reqs  events[request]
	resps events[response]
	mds   events[metadata.MD] // the gRPC metadata each stream opened with
	opts  []grpc.ServerOption // set before start

	mu   sync.Mutex
	gen  int
	stop func()
	addr string
}

// newXDSServer starts a server with an ADS snapshot cache on 127.0.0.1:0.
func newXDSServer(t testing.TB) *xdsServer {
	t.Helper()
	s := &xdsServer{cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil)}
	s.start(t, "127.0.0.1:0")
	t.Cleanup(s.shutdown)
	return s
}

// start serves on addr (again, after shutdown).
func (s *xdsServer) start(t testing.TB, addr string) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := serverv3.NewServer(ctx, s.cache, s.callbacks())
	g := grpc.NewServer(s.opts...)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, srv)
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.Serve(lis) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.addr = lis.Addr().String()
	s.stop = func() {
		g.Stop()
		cancel()
		wg.Wait()
	}
}

// shutdown stops the server, if running.
func (s *xdsServer) shutdown() {
	s.mu.Lock()
	stop := s.stop
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (s *xdsServer) generation() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func (s *xdsServer) callbacks() serverv3.CallbackFuncs {
	return serverv3.CallbackFuncs{
		StreamOpenFunc: func(ctx context.Context, _ int64, _ string) error {
			md, _ := metadata.FromIncomingContext(ctx)
			s.mds.add(md)
			return nil
		},
		DeltaStreamOpenFunc: func(ctx context.Context, _ int64, _ string) error {
			md, _ := metadata.FromIncomingContext(ctx)
			s.mds.add(md)
			return nil
		},
		StreamRequestFunc: func(_ int64, r *discoverygrpc.DiscoveryRequest) error {
			s.reqs.add(request{
				gen: s.generation(), typeURL: r.GetTypeUrl(), version: r.GetVersionInfo(),
				names: r.GetResourceNames(), nonce: r.GetResponseNonce(),
				errDetail: r.GetErrorDetail().GetMessage(), node: r.GetNode(),
			})
			return nil
		},
		StreamResponseFunc: func(_ context.Context, _ int64, _ *discoverygrpc.DiscoveryRequest, r *discoverygrpc.DiscoveryResponse) {
			s.resps.add(response{typeURL: r.GetTypeUrl(), version: r.GetVersionInfo(), nonce: r.GetNonce()})
		},
		StreamDeltaRequestFunc: func(_ int64, r *discoverygrpc.DeltaDiscoveryRequest) error {
			s.reqs.add(request{
				gen: s.generation(), typeURL: r.GetTypeUrl(), names: r.GetResourceNamesSubscribe(),
				unsub: r.GetResourceNamesUnsubscribe(), initial: r.GetInitialResourceVersions(),
				nonce: r.GetResponseNonce(), errDetail: r.GetErrorDetail().GetMessage(), node: r.GetNode(),
			})
			return nil
		},
		StreamDeltaResponseFunc: func(_ int64, _ *discoverygrpc.DeltaDiscoveryRequest, r *discoverygrpc.DeltaDiscoveryResponse) {
			s.resps.add(response{typeURL: r.GetTypeUrl(), version: r.GetSystemVersionInfo(), nonce: r.GetNonce()})
		},
	}
}

// set publishes a snapshot for the test node.
func (s *xdsServer) set(t testing.TB, version string, res map[string][]types.Resource) {
	t.Helper()
	snap, err := cache.NewSnapshot(version, res)
	if err != nil {
		t.Fatalf("NewSnapshot: %v", err)
	}
	if err := s.cache.SetSnapshot(context.Background(), testNode, snap); err != nil {
		t.Fatalf("SetSnapshot: %v", err)
	}
}

// waitACK waits until the client ACKed a response of typeURL with version.
func (s *xdsServer) waitACK(ctx context.Context, t *testing.T, typeURL, version string) {
	t.Helper()
	nonces := map[string]bool{}
	_, err := s.reqs.wait(ctx, func(r request) bool {
		for _, resp := range s.resps.all() {
			if resp.typeURL == typeURL && resp.version == version {
				nonces[resp.nonce] = true
			}
		}
		return r.typeURL == typeURL && nonces[r.nonce] && r.errDetail == ""
	})
	if err != nil {
		t.Fatalf("no ACK of %s version %q: %v", typeURL, version, err)
	}
}

// events is an append-only log that can be waited on. Safe for concurrent
// use.
type events[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{}
}

func (e *events[T]) add(v T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items = append(e.items, v)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

func (e *events[T]) all() []T {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]T(nil), e.items...)
}

// wait returns the first item, old or new, for which ok is true.
func (e *events[T]) wait(ctx context.Context, ok func(T) bool) (T, error) {
	seen := 0
	for {
		e.mu.Lock()
		items := e.items[seen:]
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		changed := e.changed
		e.mu.Unlock()
		for _, v := range items {
			if ok(v) {
				return v, nil
			}
		}
		seen += len(items)
		select {
		case <-changed:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}
