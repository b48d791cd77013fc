package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
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
	names  [numKinds][]string // RDS, EDS: the names last requested
	sent   [numKinds]bool     // a request of this kind went out
	node   bool               // the node went out
	pace   pacer
}

// runSotW runs one state-of-the-world stream on conn until it fails or ctx
// is done, and reports whether the server sent a response.
//
// Each request carries the last ACKed version of its type, the nonce of the
// last response of that type and the full list of names subscribed: none
// (wildcard) for listeners and clusters, the names the listeners and
// clusters refer to for route configurations and load assignments. A type
// whose list is empty is not requested until it is not.
func (c *Client) runSotW(ctx context.Context, conn *grpc.ClientConn, target string) (responded bool, err error) {
	ctx, wd, cancel := c.watch(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return false, streamErr(ctx, fmt.Errorf("opening stream: %w", err))
	}
	c.log.Info("ADS stream up", "target", target)
	s := &sotwStream{c: c, stream: stream, pace: pacer{base: c.opts.BackoffBase, max: c.opts.BackoffMax}}
	defer s.pace.stop()
	responded, err = pump(ctx, c, target, wd, &s.pace, receive(ctx, &wg, stream.Recv), s)
	return responded, streamErr(ctx, err)
}

// resend sends a NACK the pacer held back.
func (s *sotwStream) resend(k kind, h heldNACK) error { return s.send(k, h.err) }

// handle processes one response: ACK and update the other subscriptions, or
// NACK and change nothing.
func (s *sotwStream) handle(ctx context.Context, resp *discoveryv3.DiscoveryResponse) error {
	k, ok := kindOf(resp.GetTypeUrl())
	if !ok {
		s.c.log.Warn("ignoring a response of a type not subscribed to", "type", resp.GetTypeUrl())
		return nil
	}
	s.nonce[k] = resp.GetNonce()
	if err := s.c.acceptSotW(k, resp.GetVersionInfo(), resp.GetResources()); err != nil {
		d := s.pace.nack(k, resp.GetVersionInfo(), err)
		s.c.log.Log(ctx, nackLevel(d), "NACK", "type", resp.GetTypeUrl(), "version", resp.GetVersionInfo(), "err", err)
		if d > 0 {
			s.pace.hold(k, resp.GetNonce(), err, d)
			return nil
		}
		return s.send(k, err)
	}
	s.pace.ack(k)
	s.pace.take(k)
	s.c.log.Debug("ACK", "type", resp.GetTypeUrl(), "version", resp.GetVersionInfo())
	if err := s.send(k, nil); err != nil {
		return err
	}
	return s.syncAll()
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
// its names changed (route configurations, load assignments). A NACK held
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
