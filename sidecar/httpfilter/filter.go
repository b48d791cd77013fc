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
// last with end set, as the forwarder hands it to the upstream codec
// (sidecar/forward). Body hooks observe: they must return [Continue] (a
// local reply cannot follow a head already sent), and another status
// fails the stream. The request-body hook may run on a goroutine other
// than the stream's (an HTTP/2 upstream pumps the body beside the
// response), at the same time as the response hooks: the state it keeps
// in the stream must be its own.
type RequestBodyFilter interface {
	RequestBody(s *Stream, chunk []byte, end bool) Status
}

// ResponseBodyFilter is a Filter that sees the response body in chunks,
// the last with end set. It must return [Continue].
type ResponseBodyFilter interface {
	ResponseBody(s *Stream, chunk []byte, end bool) Status
}

// LocalReplyFilter is a Filter told of a local reply the forwarder makes
// with status after it picked the request's cluster (no healthy upstream,
// an upstream failure or timeout), as Envoy's local replies pass its
// encoder filters; only for a request whose filters watch its body
// ([Stream.WatchBody]), in reverse filter order.
type LocalReplyFilter interface {
	LocalReply(s *Stream, status int)
}

// ResponseTrailersFilter is a Filter that sees the response's trailer
// fields (none: an empty list) once its body has ended, before they are
// written, in reverse filter order. It must not modify them.
type ResponseTrailersFilter interface {
	ResponseTrailers(s *Stream, trailers []route.Header)
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
	// Cluster is the cluster the request goes to, set by the forwarder
	// once it has picked it, after the request-headers hooks and before
	// the body moves; empty until then and when none is picked.
	Cluster string
	// HTTP2 says the request came over HTTP/2 (or later), as Envoy's
	// stream protocol; set by the forwarder after Reset.
	HTTP2 bool

	filters *list // the route's filters, set by [Chain.RequestHeaders]
	stopped int   // the filter that replied; response hooks of those before it run
	scratch Response
	locals  []local // see [Stream.Local]; kept across Reset
	watch   bool    // a filter asked for the body hooks ([Stream.WatchBody])
	hold    ResponseEnder
	holdMax int // see [Stream.HoldResponse]
}

// local is one value a filter type keeps per stream.
type local struct {
	key *LocalKey
	val any
}

// LocalKey names a filter type's per-stream value ([Stream.Local]): each
// filter type that needs one declares a package-level LocalKey.
type LocalKey struct{ Name string }

// Reset prepares s for the next request on req, keeping its buffers and
// the filters' per-stream values.
func (s *Stream) Reset(req *route.Request, w Waiter) {
	*s = Stream{Request: req, Wait: w, scratch: Response{Headers: s.scratch.Headers[:0]}, Metadata: s.Metadata[:0], locals: s.locals}
}

// Local returns the value a filter type keeps in s under key: made by mk
// the first time, then the same value, as the last request left it, for
// every request the stream (its codec's reusable state) carries, so a
// filter's per-request state allocates nothing once made. The filter
// resets what it needs. Local must first be called from the stream's
// goroutine (a request-headers hook), before any body hook, which may
// then call it from another goroutine.
func (s *Stream) Local(key *LocalKey, mk func() any) any {
	for i := range s.locals {
		if s.locals[i].key == key {
			return s.locals[i].val
		}
	}
	v := mk()
	s.locals = append(s.locals, local{key, v})
	return v
}

// wait waits d through s.Wait, or on a timer when there is none.
func (s *Stream) wait(d time.Duration) bool {
	if s.Wait != nil {
		return s.Wait.Wait(d)
	}
	time.Sleep(d)
	return true
}
