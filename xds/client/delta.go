package client

import (
	"context"
	"slices"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
)

// deltaStream is one incremental ADS stream (DeltaAggregatedResources). It
// is owned by the Run goroutine.
type deltaStream struct {
	c      *Client
	stream grpc.BidiStreamingClient[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]
	names  [numKinds][]string // RDS, EDS, SDS: the names subscribed on this stream, sorted
	sent   [numKinds]bool     // a request of this kind went out
	node   bool               // the node went out
	pace   *pacer
}

// newDeltaStream returns the state of an incremental stream.
//
// The first request of each type on a stream carries the versions of the
// resources the client has (initial_resource_versions), so the server sends
// only what changed and removes what it no longer has. Listeners and
// clusters are a wildcard subscription; route configurations and load
// assignments are subscribed and unsubscribed by name as the listeners and
// clusters that refer to them come and go.
func newDeltaStream(c *Client, stream grpc.BidiStreamingClient[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse], pace *pacer) adsStream[*discoveryv3.DeltaDiscoveryResponse] {
	return &deltaStream{c: c, stream: stream, pace: pace}
}

// reply sends the ACK or NACK of the response of kind k with nonce.
func (s *deltaStream) reply(k kind, nonce string, nack error) error {
	return s.send(&discoveryv3.DeltaDiscoveryRequest{
		TypeUrl: kinds[k].url, ResponseNonce: nonce, ErrorDetail: errorDetail(nack),
	})
}

// handle processes one response: ACK it, or NACK the resources it rejects
// (see [Client.acceptDelta]), then update the subscriptions.
func (s *deltaStream) handle(ctx context.Context, resp *discoveryv3.DeltaDiscoveryResponse) error {
	k, ok := kindOf(resp.GetTypeUrl())
	if !ok {
		s.c.log.Warn("ignoring a response of a type not subscribed to", "type", resp.GetTypeUrl())
		return nil
	}
	return s.c.respond(ctx, s, s.pace, k, resp.GetSystemVersionInfo(), resp.GetNonce(), func() error {
		return s.c.acceptDelta(k, resp)
	})
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
// unsubscribe (route configurations, load assignments, secrets).
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
