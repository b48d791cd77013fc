package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// node returns the Node sent in the first request of a stream.
func (c *Client) node() *corev3.Node {
	return &corev3.Node{
		Id:             c.opts.NodeID,
		Cluster:        c.opts.NodeCluster,
		UserAgentName:  "meshlb",
		ClientFeatures: []string{"xds.config.resource-in-sotw"},
	}
}

// errorDetail is a NACK's error_detail: the error's message verbatim.
func errorDetail(err error) *statuspb.Status {
	if err == nil {
		return nil
	}
	return &statuspb.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
}

// received is one Recv result.
type received[T any] struct {
	msg T
	err error
}

// receive starts a goroutine, joined by wg, that feeds what recv returns
// into the returned channel until recv fails (that error is delivered last)
// or ctx is done. Cancelling ctx must make recv return, as it does for a
// gRPC stream created with ctx.
func receive[T any](ctx context.Context, wg *sync.WaitGroup, recv func() (T, error)) <-chan received[T] {
	ch := make(chan received[T])
	wg.Go(func() {
		for {
			m, err := recv()
			select {
			case ch <- received[T]{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	})
	return ch
}

// pacer delays NACKs that repeat: a state-of-the-world server that keeps
// the rejected version (go-control-plane's snapshot cache does) resends it as
// soon as it sees the NACK, and the two would loop at full speed; see
// https://github.com/envoyproxy/go-control-plane/issues/962. The first NACK
// of a version with a given error goes out at once; each identical one after
// it waits a growing backoff. It also holds the delayed NACKs. Not safe for
// concurrent use; owned by one stream.
type pacer struct {
	base, max time.Duration
	last      [numKinds]rejection
	held      [numKinds]heldNACK
	timer     *time.Timer
}

type rejection struct {
	key string // version and error message
	b   backoff
}

// heldNACK is a NACK waiting to be sent.
type heldNACK struct {
	nonce string
	err   error
	due   time.Time // zero: nothing held
}

// nack records that a response of kind k with version was rejected with err
// and returns how long to wait before sending the NACK (0: now).
func (p *pacer) nack(k kind, version string, err error) time.Duration {
	key := version + "\x00" + err.Error()
	if p.last[k].key != key {
		p.last[k] = rejection{key: key, b: backoff{base: p.base, max: p.max}}
		return 0
	}
	return p.last[k].b.next()
}

// ack forgets the rejections of kind k.
func (p *pacer) ack(k kind) { p.last[k] = rejection{} }

// hold keeps a NACK of kind k to be sent after d.
func (p *pacer) hold(k kind, nonce string, err error, d time.Duration) {
	p.held[k] = heldNACK{nonce: nonce, err: err, due: time.Now().Add(d)}
	p.arm()
}

// take removes and returns the NACK held for kind k, if any.
func (p *pacer) take(k kind) (heldNACK, bool) {
	h := p.held[k]
	p.held[k] = heldNACK{}
	p.arm()
	return h, !h.due.IsZero()
}

// due returns the kinds whose held NACK is due.
func (p *pacer) due() []kind {
	var out []kind
	now := time.Now()
	for k := range numKinds {
		if d := p.held[k].due; !d.IsZero() && !d.After(now) {
			out = append(out, k)
		}
	}
	return out
}

// C returns a channel that receives when a held NACK may be due, or nil.
func (p *pacer) C() <-chan time.Time {
	if p.timer == nil {
		return nil
	}
	return p.timer.C
}

// arm sets the timer to the earliest held NACK, or stops it.
func (p *pacer) arm() {
	var next time.Time
	for k := range numKinds {
		if d := p.held[k].due; !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	switch {
	case next.IsZero() && p.timer != nil:
		p.timer.Stop()
		p.timer = nil
	case next.IsZero():
	case p.timer == nil:
		p.timer = time.NewTimer(time.Until(next))
	default:
		p.timer.Reset(time.Until(next))
	}
}

// stop releases the timer.
func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// requester sends the requests of a state-of-the-world or delta stream.
type requester interface {
	// syncAll sends the subscriptions that changed since the last request.
	syncAll() error
	// reply sends the ACK (nack nil) or NACK of the response of kind k
	// with nonce.
	reply(k kind, nonce string, nack error) error
}

// adsStream is one state-of-the-world or delta stream, as pump drives it.
type adsStream[Resp any] interface {
	requester
	// handle processes one response, calling [Client.respond].
	handle(ctx context.Context, resp Resp) error
}

// runStream runs one ADS stream to target on conn, state-of-the-world or
// delta as the options say, until it fails or ctx is done. It reports
// whether the server sent at least one response.
func (c *Client) runStream(ctx context.Context, conn *grpc.ClientConn, target string) (bool, error) {
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
	if c.opts.Delta {
		return runADS(ctx, c, target, ads.DeltaAggregatedResources, newDeltaStream)
	}
	return runADS(ctx, c, target, ads.StreamAggregatedResources, newSotWStream)
}

// runADS is the one setup path of both kinds of stream: it opens the stream
// under the response watchdog (see [Client.watch]), pumps it and joins the
// receiving goroutine before it returns.
func runADS[Req, Resp any](ctx context.Context, c *Client, target string,
	open func(context.Context, ...grpc.CallOption) (grpc.BidiStreamingClient[Req, Resp], error),
	newStream func(*Client, grpc.BidiStreamingClient[Req, Resp], *pacer) adsStream[*Resp],
) (responded bool, err error) {
	ctx, wd, cancel := c.watch(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	stream, err := open(c.withMetadata(ctx))
	if err != nil {
		return false, streamErr(ctx, fmt.Errorf("opening stream: %w", err))
	}
	c.log.Info("ADS stream up", "target", target, "delta", c.opts.Delta)
	pace := &pacer{base: c.opts.BackoffBase, max: c.opts.BackoffMax}
	defer pace.stop()
	responded, err = pump(ctx, c, target, wd, pace, receive(ctx, &wg, stream.Recv), newStream(c, stream, pace))
	return responded, streamErr(ctx, err)
}

// respond ACKs or NACKs a response of kind k after accept has merged it
// (see [Client.acceptSotW]), then sends the subscription changes: a NACK
// may still have accepted some resources. A repeated NACK is held back by
// the pacer.
func (c *Client) respond(ctx context.Context, s requester, pace *pacer, k kind, version, nonce string, accept func() error) error {
	if err := accept(); err != nil {
		c.status.nack(k, version, err)
		d := pace.nack(k, version, err)
		c.log.Log(ctx, nackLevel(d), "NACK", "type", kinds[k].url, "version", version, "err", err)
		if d > 0 {
			pace.hold(k, nonce, err, d)
		} else {
			pace.take(k)
			if err := s.reply(k, nonce, err); err != nil {
				return err
			}
		}
		return s.syncAll()
	}
	c.status.ack(k, version)
	pace.ack(k)
	pace.take(k)
	c.log.Debug("ACK", "type", kinds[k].url, "version", version)
	if err := s.reply(k, nonce, nil); err != nil {
		return err
	}
	return s.syncAll()
}

// pump sends the first subscriptions, then handles responses, the initial
// fetch timeout and held-back NACKs until the stream fails or ctx is done.
// The first response stops the stream's watchdog, if any (see
// [Client.watch]). It reports whether the server sent a response.
func pump[Resp any](ctx context.Context, c *Client, target string, wd *time.Timer, pace *pacer, msgs <-chan received[Resp], s adsStream[Resp]) (responded bool, err error) {
	initC, stopInit := c.initTimer()
	defer stopInit()
	if err := s.syncAll(); err != nil {
		return false, err
	}
	for {
		select {
		case <-ctx.Done():
			return responded, ctx.Err()
		case r := <-msgs:
			if r.err != nil {
				return responded, fmt.Errorf("receiving: %w", r.err)
			}
			if !responded {
				responded = true
				if wd != nil {
					wd.Stop()
				}
				c.setConn(target, true)
			}
			if err := s.handle(ctx, r.msg); err != nil {
				return responded, err
			}
		case <-initC:
			initC = nil
			c.initTimeout()
		case <-pace.C():
			for _, k := range pace.due() {
				h, _ := pace.take(k)
				if err := s.reply(k, h.nonce, h.err); err != nil {
					return responded, err
				}
			}
		}
	}
}
