// Package httpfilter is the HTTP filter chain of an HTTP connection
// manager: filters registered by Envoy type URL, compiled once per
// configuration snapshot into an immutable [Chain] that runs in order
// between the route match and the router (the forwarder, always last).
//
// Filters see codec-neutral types only: the request head is a
// [route.Request], a response head a [Response]. A codec or forwarder owns
// one [Stream] per request and passes it to the chain's hooks; running a
// chain with no filters, or whose filters continue, does not allocate.
//
// The package is modelled on Envoy's filter manager (decode filters in
// order, encode filters in reverse, a local reply that stops iteration)
// and grpc-go's balancer registry (Register from init, Get at build).
package httpfilter

import (
	"time"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Status is what a hook decided.
type Status uint8

const (
	// Continue passes the request or response to the next filter.
	Continue Status = iota
	// StopReply stops the chain: the stream is answered with
	// [Stream.Reply] and not forwarded.
	StopReply
	// StopReset stops the chain and ends the stream without a reply: the
	// client went away (for instance during an injected delay).
	StopReset
)

// Filter is one compiled HTTP filter. It is shared by every request of a
// snapshot, so it must be safe for concurrent use and keep per-request
// state in the [Stream] only. Hooks must not retain the stream or the
// slices it points to after they return.
//
// RequestHeaders runs after the route match, before the request is
// forwarded. It may change the request's headers (in s.Request.Headers),
// stop with a local reply by setting s.Reply and returning [StopReply], or
// wait with s.Wait. Optional hooks are found by type assertion:
// [ResponseHeadersFilter], [RequestBodyFilter], [ResponseBodyFilter].
type Filter interface {
	RequestHeaders(s *Stream) Status
}

// ResponseHeadersFilter is a Filter that sees response heads, upstream
// ones and local replies of filters after it, before they are written.
// It may change r (not the framing headers content-length and
// transfer-encoding), or replace the response with a local reply
// ([StopReply]). Response hooks run in reverse filter order.
type ResponseHeadersFilter interface {
	ResponseHeaders(s *Stream, r *Response) Status
}

// RequestBodyFilter is a Filter that sees the request body in chunks, the
// last with end set. It may stop with a local reply. Body hooks run only
// where a codec streams bodies through [Chain.RequestBody] and
// [Chain.ResponseBody]; sidecar/l7 does not yet, and the sidecar refuses a
// chain with body hooks rather than skip them.
type RequestBodyFilter interface {
	RequestBody(s *Stream, chunk []byte, end bool) Status
}

// ResponseBodyFilter is a Filter that sees the response body in chunks,
// the last with end set.
type ResponseBodyFilter interface {
	ResponseBody(s *Stream, chunk []byte, end bool) Status
}

// Response is a response head: status and headers, codec-neutral.
type Response struct {
	Status  int
	Headers []route.Header
}

// Reply is a local reply a filter answers with instead of the upstream.
type Reply struct {
	Status int
	Body   string
	// Headers are added to the reply's head (beside content-type and
	// content-length). They are the filter's and must not be modified.
	Headers []route.Header
	// Flag says why (stream.RateLimited, stream.FaultInjected...); the
	// chain adds it to the stream's Flags.
	Flag stream.Flags
}

// Waiter waits on behalf of a filter. Wait returns after d, or early and
// false when the client has gone away. The codec provides it, since only
// it can tell a closed client; implementations bound d.
type Waiter interface {
	Wait(d time.Duration) bool
}

// Stream is one request's state as the chain's hooks see it. The codec or
// forwarder owns it and may reuse it for the next request after
// [Stream.Reset]. A Stream must not be copied after first use.
type Stream struct {
	// Request is the request head, with its route already matched.
	Request *route.Request
	// Conn is the downstream connection (addresses, TLS peer); nil when
	// the codec does not know it. The forwarder sets it after Reset.
	Conn *stream.Conn
	// Wait waits for filters (fault delays); nil waits on a timer.
	Wait Waiter
	// Reply is the local reply when a hook returned [StopReply].
	Reply Reply
	// Flags are the Envoy response flags filters set on the stream.
	Flags stream.Flags
	// Metadata is the stream's dynamic metadata, set by filters
	// ([Stream.SetMetadata]); its buffer is kept across Reset.
	Metadata []Metadatum

	filters *list // the route's filters, set by [Chain.RequestHeaders]
	stopped int   // the filter that replied; response hooks of those before it run
	scratch Response
}

// Reset prepares s for the next request on req, keeping its buffers.
func (s *Stream) Reset(req *route.Request, w Waiter) {
	*s = Stream{Request: req, Wait: w, scratch: Response{Headers: s.scratch.Headers[:0]}, Metadata: s.Metadata[:0]}
}

// wait waits d through s.Wait, or on a timer when there is none.
func (s *Stream) wait(d time.Duration) bool {
	if s.Wait != nil {
		return s.Wait.Wait(d)
	}
	time.Sleep(d)
	return true
}
