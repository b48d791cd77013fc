package scale

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// sidecar is one ADS stream on its own gRPC connection, as a sidecar has.
// It subscribes to CDS and LDS (wildcard) and to its EDS and RDS names,
// ACKs every response, and records when popular's first endpoint changes
// port. Its fields are safe for concurrent reads.
type sidecar struct {
	spec  sidecarSpec
	delta bool

	port    atomic.Int64 // of popular's first endpoint, 0 before any EDS
	changed atomic.Int64 // UnixNano when port last changed
	bytes   atomic.Int64 // proto size of the responses received
	byType  [4]atomic.Int64
	err     atomic.Value // error that ended the stream
}

// typeIndex orders the four types for sidecar.byType.
var typeNames = [4]string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType}

func typeIndex(typeURL string) int {
	for i, t := range typeNames {
		if t == typeURL {
			return i
		}
	}
	return -1
}

// run dials addr and serves the stream until ctx is done or it fails.
func (s *sidecar) run(ctx context.Context, addr string) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.err.Store(err)
		return
	}
	defer conn.Close()
	client := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn)
	if s.delta {
		err = s.runDelta(ctx, client)
	} else {
		err = s.runSotW(ctx, client)
	}
	if err != nil && ctx.Err() == nil {
		s.err.Store(err)
	}
}

// names returns the resource names the sidecar asks for by type; nil is
// a wildcard.
func (s *sidecar) names(typeURL string) []string {
	switch typeURL {
	case resource.EndpointType:
		return s.spec.clusters
	case resource.RouteType:
		return s.spec.routes
	}
	return nil
}

func (s *sidecar) runSotW(ctx context.Context, c discoverygrpc.AggregatedDiscoveryServiceClient) error {
	stream, err := c.StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("opening stream: %w", err)
	}
	node := &core.Node{Id: s.spec.id}
	for _, t := range typeNames {
		if err := stream.Send(&discoverygrpc.DiscoveryRequest{Node: node, TypeUrl: t, ResourceNames: s.names(t)}); err != nil {
			return fmt.Errorf("subscribing: %w", err)
		}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receiving: %w", err)
		}
		s.account(resp.GetTypeUrl(), proto.Size(resp))
		if resp.GetTypeUrl() == resource.EndpointType {
			for _, a := range resp.GetResources() {
				if err := s.observe(a); err != nil {
					return err
				}
			}
		}
		ack := &discoverygrpc.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(),
			ResponseNonce: resp.GetNonce(), ResourceNames: s.names(resp.GetTypeUrl())}
		if err := stream.Send(ack); err != nil {
			return fmt.Errorf("acking: %w", err)
		}
	}
}

func (s *sidecar) runDelta(ctx context.Context, c discoverygrpc.AggregatedDiscoveryServiceClient) error {
	stream, err := c.DeltaAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("opening delta stream: %w", err)
	}
	node := &core.Node{Id: s.spec.id}
	for _, t := range typeNames {
		if err := stream.Send(&discoverygrpc.DeltaDiscoveryRequest{Node: node, TypeUrl: t, ResourceNamesSubscribe: s.names(t)}); err != nil {
			return fmt.Errorf("subscribing: %w", err)
		}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receiving: %w", err)
		}
		s.account(resp.GetTypeUrl(), proto.Size(resp))
		if resp.GetTypeUrl() == resource.EndpointType {
			for _, r := range resp.GetResources() {
				if r.GetName() != popular {
					continue
				}
				if err := s.observe(r.GetResource()); err != nil {
					return err
				}
			}
		}
		if err := stream.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}); err != nil {
			return fmt.Errorf("acking: %w", err)
		}
	}
}

func (s *sidecar) account(typeURL string, n int) {
	s.bytes.Add(int64(n))
	if i := typeIndex(typeURL); i >= 0 {
		s.byType[i].Add(1)
	}
}

// observe records the port of popular's first endpoint if a is popular's
// ClusterLoadAssignment.
func (s *sidecar) observe(a *anypb.Any) error {
	var cla endpoint.ClusterLoadAssignment
	if err := a.UnmarshalTo(&cla); err != nil {
		return fmt.Errorf("decoding endpoints: %w", err)
	}
	if cla.GetClusterName() != popular {
		return nil
	}
	port := int64(cla.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())
	if s.port.Swap(port) != port {
		s.changed.Store(time.Now().UnixNano())
	}
	return nil
}

// fleet is the set of sidecar streams and their goroutines.
type fleet struct {
	sidecars []*sidecar
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// startFleet opens one stream per spec against addr; every other one is
// delta.
func startFleet(addr string, specs []sidecarSpec) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{cancel: cancel}
	for i, sp := range specs {
		s := &sidecar{spec: sp, delta: i%2 == 1}
		f.sidecars = append(f.sidecars, s)
		f.wg.Go(func() { s.run(ctx, addr) })
	}
	return f
}

// stop closes every stream and waits for their goroutines.
func (f *fleet) stop() {
	f.cancel()
	f.wg.Wait()
}

// count returns how many sidecars see popular's first endpoint on port,
// and the first stream error, if any.
func (f *fleet) count(port int) (int, error) {
	n := 0
	for _, s := range f.sidecars {
		if e, ok := s.err.Load().(error); ok {
			return n, fmt.Errorf("sidecar %s: %w", s.spec.id, e)
		}
		if s.port.Load() == int64(port) {
			n++
		}
	}
	return n, nil
}

// totals returns the bytes and responses per type received so far.
func (f *fleet) totals() (bytes int64, byType [4]int64) {
	for _, s := range f.sidecars {
		bytes += s.bytes.Load()
		for i := range byType {
			byType[i] += s.byType[i].Load()
		}
	}
	return bytes, byType
}
