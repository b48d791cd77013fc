package h2up

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
)

// exchange is one request on an HTTP/2 connection: the codec's
// [forward.Exchange]. The request body is pumped from the stream by a
// goroutine of its own, so the response may flow while the request body
// still does (gRPC streaming both ways); that goroutine reads the stream's
// body only, and ends before Done returns.
type exchange struct {
	c      *conn
	ctx    context.Context
	cancel context.CancelFunc
	req    *http.Request
	resp   *http.Response
	body   *pump // nil: the request has no body
	// timedOut: a wait bound expired and cancelled the stream.
	timedOut atomic.Bool
	// refused: the stream failed before the server processed it.
	refused bool
	started bool // RoundTrip was called
	idle    time.Duration
	st      forward.Stream
	hdrs    []route.Header
}

var _ forward.Exchange = (*exchange)(nil)

func newExchange(c *conn) *exchange {
	x := &exchange{c: c}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	return x
}

// errNoTunnel: HTTP/2 has no 101 Switching Protocols to tunnel after.
var errNoTunnel = errors.New("no upgrade over an HTTP/2 upstream")

// Send implements [forward.Exchange]: it makes the request from st's head
// as rt rewrites it and starts pumping st's body; RoundTrip happens in
// ReadHead.
func (x *exchange) Send(st forward.Stream, rt *route.Route, skipXFF bool, idle time.Duration) error {
	req, length := newRequest(x.ctx, st, rt, skipXFF)
	x.req, x.idle, x.st = req, idle, st
	if !st.Framing().HasBody {
		// A codec takes the request head as consumed at the first read of
		// its body, empty or not.
		var none [1]byte
		if _, err := st.ReadBody(none[:0]); err != nil && err != io.EOF {
			return err
		}
		return nil
	}
	x.body = startPump(st, req)
	req.Body, req.ContentLength = x.body.r, length
	if length == 0 {
		req.ContentLength = -1 // a body of unknown length follows
	}
	return nil
}

// ReadHead implements [forward.Exchange]: it sends the request and waits
// for the response head, at most idle and until hard. HTTP/2 interim
// heads (1xx) are not relayed.
func (x *exchange) ReadHead(st forward.Stream, idle time.Duration, hard time.Time) (forward.ResponseHead, bool, error) {
	stop := x.bound(idle, hard)
	x.started = true
	resp, err := x.c.cc.RoundTrip(x.req)
	stop()
	if err != nil {
		return forward.ResponseHead{}, false, x.headError(err)
	}
	x.resp = resp
	return forward.ResponseHead{Status: resp.StatusCode, GRPC: grpcStatus(resp.Header)}, false, nil
}

// bound cancels the stream once idle (if positive) or hard (if set) has
// passed, whichever is first; stop disarms it.
func (x *exchange) bound(idle time.Duration, hard time.Time) (stop func()) {
	var d time.Duration
	if idle > 0 {
		d = idle
	}
	if !hard.IsZero() {
		if h := time.Until(hard); d == 0 || h < d {
			d = max(h, time.Millisecond)
		}
	}
	if d == 0 {
		return func() {}
	}
	t := time.AfterFunc(d, func() {
		x.timedOut.Store(true)
		x.cancel()
	})
	return func() { t.Stop() }
}

// headError classifies a failure before the response head for the
// forwarder: a timeout, the client's body failing, a reset by the
// server, or the connection failing.
func (x *exchange) headError(err error) error {
	if x.timedOut.Load() {
		return fmt.Errorf("waiting for the response head: %w", os.ErrDeadlineExceeded)
	}
	if x.body != nil {
		if src := x.body.sourceErr(); src != nil {
			return src
		}
	}
	var se http2.StreamError
	if errors.As(err, &se) {
		if se.Code == http2.ErrCodeRefusedStream {
			x.refused = true
			return fmt.Errorf("stream refused: %w", err)
		}
		return fmt.Errorf("%w: %w", forward.ErrUpstreamReset, err)
	}
	x.refused = true // the connection failed: nothing was processed
	return err
}

// Headers implements [forward.Exchange]: HTTP/2 pseudo-headers are not
// among them and, for a client of another protocol, the HTTP/1 framing
// the body takes is (as WriteHead writes it): the forwarder writes a head
// it filtered or rewrote from these, and without the framing an HTTP/1.1
// client would get neither the trailers nor the body's end.
func (x *exchange) Headers(dst []route.Header) []route.Header {
	return responseHeaders(dst, x.resp, x.st.Framing().HTTP2)
}

// WriteHead implements [forward.Exchange].
func (x *exchange) WriteHead(st forward.Stream, closing bool) {
	x.hdrs = responseHeaders(x.hdrs[:0], x.resp, st.Framing().HTTP2)
	st.WriteHead(x.resp.StatusCode, nil, x.hdrs, closing)
}

// CopyBody implements [forward.Exchange]: the response body, flushed as it
// arrives, then its trailers.
// A response that ends with its head (a gRPC trailers-only response) is
// not flushed to an HTTP/2 client: its codec then sends the head with
// END_STREAM, as gRPC clients require, instead of a head and an empty
// DATA frame.
func (x *exchange) CopyBody(st forward.Stream, bodyless bool) error {
	wrote := false
	if !bodyless {
		var err error
		if wrote, err = x.copyBody(st); err != nil {
			return err
		}
	}
	x.hdrs = appendHeaders(x.hdrs[:0], x.resp.Trailer)
	if err := st.WriteTrailers(x.hdrs); err != nil {
		return err
	}
	if !wrote && len(x.hdrs) == 0 && st.Framing().HTTP2 {
		return nil
	}
	return st.Flush()
}

// copyBody relays the response body, each read bounded by the stream idle
// timeout, and reports whether it had any byte.
func (x *exchange) copyBody(st forward.Stream) (wrote bool, err error) {
	pb := bufs.Get().(*[]byte)
	defer bufs.Put(pb)
	var t *time.Timer
	if x.idle > 0 {
		t = time.AfterFunc(x.idle, func() {
			x.timedOut.Store(true)
			x.cancel()
		})
		defer t.Stop()
	}
	for {
		n, rerr := x.resp.Body.Read(*pb)
		if t != nil && !t.Reset(x.idle) {
			rerr = os.ErrDeadlineExceeded
		}
		if n > 0 {
			wrote = true
			if err := st.WriteBody((*pb)[:n]); err != nil {
				return wrote, err
			}
			if err := st.Flush(); err != nil {
				return wrote, err
			}
		}
		if rerr == io.EOF {
			return wrote, nil
		}
		if rerr != nil {
			if x.timedOut.Load() {
				rerr = os.ErrDeadlineExceeded
			}
			return wrote, &forward.SourceError{Err: rerr}
		}
	}
}

// Tunnel implements [forward.Exchange]; it is never called, since an
// HTTP/2 response is never 101.
func (x *exchange) Tunnel(forward.Stream) error { return errNoTunnel }

// Stale implements [forward.Exchange]: the stream was refused, or the
// connection failed, before the server processed the request.
func (x *exchange) Stale() bool { return x.refused }

// Reusable implements [forward.Exchange]: the connection stays in the
// pool whatever happens to one stream.
func (x *exchange) Reusable() bool { return true }

// Done implements [forward.Exchange]: it ends the stream (resetting it if
// the response was not read whole), waits for the body pump and frees the
// stream slot. The connection is never closed here: other streams may
// use it; the pool drops it once it can take no new stream.
func (x *exchange) Done(ep *cluster.Endpoint, keep bool) {
	if !x.started {
		x.cancel() // consumes the slot ReserveNewRequest took
		if resp, err := x.c.cc.RoundTrip(x.req); err == nil {
			resp.Body.Close()
		}
	}
	if x.resp != nil {
		x.resp.Body.Close()
	}
	x.cancel()
	if x.body != nil {
		if !x.body.finished() && !x.st.Framing().HTTP2 {
			// An HTTP/1 client's body is unread: its connection cannot
			// carry another request, and closing it ends the pump's read.
			x.st.CloseAfter()
		}
		x.body.wait()
	}
	x.c.release()
}
