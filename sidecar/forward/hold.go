package forward

import (
	"errors"
	"strconv"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
)

// A response an HTTP filter holds whole (httpfilter.Stream.HoldResponse,
// Envoy's grpc_http1_bridge): the client's stream is replaced, for the
// response, by a holdTap that keeps the head and the body, bounded, and
// writes them when the body ends, with the head the filter's
// ResponseEnd leaves.

// errHeldTooLarge: the held body went past the filter's bound.
var errHeldTooLarge = errors.New("held response body over the buffer limit")

// maxKeptHold is the largest body buffer a connection keeps for its next
// held response; a larger one is dropped after use.
const maxKeptHold = 64 << 10

// holdTap is a client stream that holds the response until it ends.
type holdTap struct {
	Stream
	fs      *httpfilter.Stream
	end     httpfilter.ResponseEnder
	max     int
	status  int
	reason  []byte
	closing bool
	head    httpfilter.Response
	arena   []byte // the head's names and values, copied
	body    []byte
	ended   bool
	over    bool
}

// hold returns the stream the response goes to: a holdTap over f.st when
// a filter holds the response, else f.st.
func (f *forwarder) hold() Stream {
	e, max := f.ss.filters.stream.HeldResponse()
	if e == nil {
		return f.st
	}
	t := &f.ss.hold
	*t = holdTap{Stream: f.st, fs: &f.ss.filters.stream, end: e, max: max,
		head: httpfilter.Response{Headers: t.head.Headers[:0]}, arena: t.arena[:0], body: t.body[:0]}
	return t
}

// WriteHead implements [Stream]: it keeps a copy of the head.
func (t *holdTap) WriteHead(status int, reason []byte, headers []route.Header, closing bool) {
	t.status, t.closing = status, closing
	t.reason = nil
	if reason != nil {
		t.arena = append(t.arena, reason...)
		t.reason = t.arena[len(t.arena)-len(reason):]
	}
	for _, h := range headers {
		if ascii.EqualFoldLower(h.Name, "content-length") || ascii.EqualFoldLower(h.Name, "transfer-encoding") {
			continue
		}
		t.arena = append(t.arena, h.Name...)
		n := t.arena[len(t.arena)-len(h.Name):]
		t.arena = append(t.arena, h.Value...)
		v := t.arena[len(t.arena)-len(h.Value):]
		t.head.Headers = append(t.head.Headers, route.Header{Name: n, Value: v})
	}
}

// WriteBody implements [Stream]: it keeps p, up to the bound.
func (t *holdTap) WriteBody(p []byte) error {
	if len(t.body)+len(p) > t.max {
		t.over = true
		return errHeldTooLarge
	}
	t.body = append(t.body, p...)
	return nil
}

// Flush implements [Stream]: nothing goes out before the body ends.
func (t *holdTap) Flush() error {
	if !t.ended {
		return nil
	}
	return t.Stream.Flush()
}

// WriteTrailers implements [Stream]: the body has ended, so the filter
// edits the head, which goes out with the body and a content-length.
func (t *holdTap) WriteTrailers(trailers []route.Header) error {
	if t.ended {
		return nil
	}
	t.ended = true
	t.head.Status = t.status
	t.end.ResponseEnd(t.fs, &t.head, trailers)
	reason := t.reason
	if t.head.Status != t.status {
		reason = nil
	}
	var n [20]byte
	hs := append(t.head.Headers, route.Header{Name: contentLength, Value: strconv.AppendInt(n[:0], int64(len(t.body)), 10)})
	t.Stream.WriteHead(t.head.Status, reason, hs, t.closing)
	err := t.Stream.WriteBody(t.body)
	if err == nil {
		err = t.Stream.WriteTrailers(nil)
	}
	t.release()
	return err
}

// release drops what the tap keeps beyond the next response's needs.
func (t *holdTap) release() {
	if cap(t.body) > maxKeptHold {
		t.body = nil
	}
	t.fs, t.end = nil, nil
}

// contentLength is the header name a held response's framing uses.
var contentLength = []byte("content-length")

// relayHeld finishes relaying a response t held, err being what the
// upstream codec's CopyBody returned: it writes the held response (or
// 500 for a body over the bound), or fails with nothing sent.
func (f *forwarder) relayHeld(t *holdTap, ex Exchange, res result, err error) (result, bool, *attemptError) {
	defer t.release()
	switch {
	case t.over:
		// Envoy's local reply for a body a filter buffers past the limit
		// before the head went out.
		return result{status: 500, keep: f.st.Reply(LocalReply{Code: 500, Body: "Internal Server Error", Close: true})}, false, nil
	case err != nil:
		return res, false, relayFailure(err)
	case !t.ended: // a codec that ends a body without trailers
		if err := t.WriteTrailers(nil); err != nil {
			return res, false, relayFailure(err)
		}
		if err := f.st.Flush(); err != nil {
			return res, false, relayFailure(err)
		}
	}
	res.status = t.head.Status
	return res, ex.Reusable(), nil
}
