package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
)

// sotwStream is one state-of-the-world ADS stream (StreamAggregatedResources).
// It is owned by the Run goroutine.
type sotwStream struct {
	c      *Client
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	nonce  [numKinds]string   // of the last response
	names  [numKinds][]string // RDS, EDS, SDS: the names last requested
	sent   [numKinds]bool     // a request of this kind went out
	node   bool               // the node went out
	pace   *pacer
}

// newSotWStream returns the state of a state-of-the-world stream.
//
// Each request carries the last ACKed version of its type, the nonce of the
// last response of that type and the full list of names subscribed: none
// (wildcard) for listeners and clusters, the names the listeners and
// clusters refer to for route configurations, load assignments and
// secrets. A type
// whose list is empty is not requested until it is not.
func newSotWStream(c *Client, stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse], pace *pacer) adsStream[*discoveryv3.DiscoveryResponse] {
	return &sotwStream{c: c, stream: stream, pace: pace}
}

// reply sends the ACK or NACK of the last response of kind k (a
// state-of-the-world request names the latest nonce of its type).
func (s *sotwStream) reply(k kind, _ string, nack error) error { return s.send(k, nack) }

// handle processes one response: ACK it, or NACK the resources it rejects
// (see [Client.acceptSotW]), then update the other subscriptions.
func (s *sotwStream) handle(ctx context.Context, resp *discoveryv3.DiscoveryResponse) error {
	k, ok := kindOf(resp.GetTypeUrl())
	if !ok {
		s.c.log.Warn("ignoring a response of a type not subscribed to", "type", resp.GetTypeUrl())
		return nil
	}
	s.nonce[k] = resp.GetNonce()
	return s.c.respond(ctx, s, s.pace, k, resp.GetVersionInfo(), resp.GetNonce(), func() error {
		return s.c.acceptSotW(k, resp.GetVersionInfo(), resp.GetResources())
	})
}

// syncAll requests every type whose subscription differs from the last
// request of it, in [subscribeOrder].
func (s *sotwStream) syncAll() error {
	for _, k := range subscribeOrder {
		if err := s.sync(k); err != nil {
			return err
		}
	}
	return nil
}

// sync requests kind k if it was never requested (listeners, clusters) or
// its names changed (route configurations, load assignments, secrets). A NACK held
// for k goes out with it.
func (s *sotwStream) sync(k kind) error {
	if kinds[k].full {
		if s.sent[k] {
			return nil
		}
		return s.send(k, nil)
	}
	want := s.c.cur.wanted(k, s.c.static)
	if slices.Equal(want, s.names[k]) && (s.sent[k] || len(want) == 0) {
		return nil
	}
	s.names[k] = want
	h, _ := s.pace.take(k)
	return s.send(k, h.err)
}

// send sends a request of kind k: an ACK, or a NACK if nack is not nil.
func (s *sotwStream) send(k kind, nack error) error {
	req := &discoveryv3.DiscoveryRequest{
		VersionInfo:   s.c.cur.version[k],
		ResourceNames: s.names[k],
		TypeUrl:       kinds[k].url,
		ResponseNonce: s.nonce[k],
		ErrorDetail:   errorDetail(nack),
	}
	if !s.node {
		req.Node, s.node = s.c.node(), true
	}
	s.sent[k] = true
	return sendErr(s.stream.Send(req))
}

// sendErr filters the io.EOF a gRPC stream's Send returns when the stream
// broke: the reason comes from Recv.
func sendErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("sending: %w", err)
}

// nackLevel logs the first NACK of a version at Warn and its repeats, which
// wait d > 0, at Debug.
func nackLevel(d time.Duration) slog.Level {
	if d > 0 {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
