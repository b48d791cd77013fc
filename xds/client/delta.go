package client

import (
	"context"
	"fmt"
	"slices"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
)

// deltaStream is one incremental ADS stream (DeltaAggregatedResources). It
// is owned by the Run goroutine.
type deltaStream struct {
	c      *Client
	stream grpc.BidiStreamingClient[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]
	names  [numKinds][]string // RDS, EDS: the names subscribed on this stream, sorted
	sent   [numKinds]bool     // a request of this kind went out
	node   bool               // the node went out
	pace   pacer
}

// runDelta runs one incremental stream on conn until it fails or ctx is
// done, and reports whether the server sent a response.
//
// The first request of each type on a stream carries the versions of the
// resources the client has (initial_resource_versions), so the server sends
// only what changed and removes what it no longer has. Listeners and
// clusters are a wildcard subscription; route configurations and load
// assignments are subscribed and unsubscribed by name as the listeners and
// clusters that refer to them come and go.
func (c *Client) runDelta(ctx context.Context, conn *grpc.ClientConn, target string) (responded bool, err error) {
	ctx, wd, cancel := c.watch(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return false, streamErr(ctx, fmt.Errorf("opening stream: %w", err))
	}
	c.log.Info("ADS stream up", "target", target)
	s := &deltaStream{c: c, stream: stream, pace: pacer{base: c.opts.BackoffBase, max: c.opts.BackoffMax}}
	defer s.pace.stop()
	responded, err = pump(ctx, c, target, wd, &s.pace, receive(ctx, &wg, stream.Recv), s)
	return responded, streamErr(ctx, err)
}

// resend sends a NACK the pacer held back.
func (s *deltaStream) resend(k kind, h heldNACK) error {
	return s.send(&discoveryv3.DeltaDiscoveryRequest{
		TypeUrl: kinds[k].url, ResponseNonce: h.nonce, ErrorDetail: errorDetail(h.err),
	})
}

// handle processes one response: ACK and update the subscriptions, or NACK
// and change nothing.
func (s *deltaStream) handle(ctx context.Context, resp *discoveryv3.DeltaDiscoveryResponse) error {
	k, ok := kindOf(resp.GetTypeUrl())
	if !ok {
		s.c.log.Warn("ignoring a response of a type not subscribed to", "type", resp.GetTypeUrl())
		return nil
	}
	version := resp.GetSystemVersionInfo()
	if err := s.c.acceptDelta(k, resp); err != nil {
		d := s.pace.nack(k, version, err)
		s.c.log.Log(ctx, nackLevel(d), "NACK", "type", resp.GetTypeUrl(), "version", version, "err", err)
		if d > 0 {
			s.pace.hold(k, resp.GetNonce(), err, d)
			return nil
		}
		return s.send(&discoveryv3.DeltaDiscoveryRequest{
			TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce(), ErrorDetail: errorDetail(err),
		})
	}
	s.pace.ack(k)
	s.pace.take(k)
	s.c.log.Debug("ACK", "type", resp.GetTypeUrl(), "version", version)
	if err := s.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}); err != nil {
		return err
	}
	return s.syncAll()
}

// syncAll sends the subscription changes of every type, in [subscribeOrder].
func (s *deltaStream) syncAll() error {
	for _, k := range subscribeOrder {
		if err := s.sync(k); err != nil {
			return err
		}
	}
	return nil
}

// sync subscribes to kind k if it was never requested on this stream
// (listeners, clusters: wildcard), or sends the names to subscribe and
// unsubscribe (route configurations, load assignments).
func (s *deltaStream) sync(k kind) error {
	req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: kinds[k].url}
	if !kinds[k].full {
		want := s.c.cur.wanted(k, s.c.static)
		req.ResourceNamesSubscribe = diff(want, s.names[k])
		req.ResourceNamesUnsubscribe = diff(s.names[k], want)
		if len(req.ResourceNamesSubscribe)+len(req.ResourceNamesUnsubscribe) == 0 {
			return nil
		}
		s.names[k] = want
	} else if s.sent[k] {
		return nil
	}
	if !s.sent[k] {
		req.InitialResourceVersions = versions(s.c.cur.res[k])
		s.sent[k] = true
	}
	return s.send(req)
}

// send sends req, with the node if it is the stream's first request.
func (s *deltaStream) send(req *discoveryv3.DeltaDiscoveryRequest) error {
	if !s.node {
		req.Node, s.node = s.c.node(), true
	}
	return sendErr(s.stream.Send(req))
}

// diff returns the names in a and not in b; both are sorted.
func diff(a, b []string) []string {
	var out []string
	for _, n := range a {
		if _, ok := slices.BinarySearch(b, n); !ok {
			out = append(out, n)
		}
	}
	return out
}

// versions returns the version of each resource by name, or nil if none.
func versions(m map[string]*resource) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for name, r := range m {
		out[name] = r.version
	}
	return out
}
