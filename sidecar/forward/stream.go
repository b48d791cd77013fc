package forward

import (
	"time"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Stream is one request on a downstream connection as a server codec
// (HTTP/1 today) presents it to the forwarder: the request head, the
// facts about its framing the forwarder decides on, local replies, and
// a place for the forwarder's per-request state. The forwarder calls it
// on the stream's goroutine only, and never sees the wire format.
type Stream interface {
	// Request is the request head. Its slices point into the codec's
	// buffers: valid until the request body is read.
	Request() *route.Request
	// Framing returns the facts about the request's framing.
	Framing() Framing
	// Peer returns the client's IP address as text (the connection's
	// source, for hash policies), or nil when unknown. Valid for the
	// connection's lifetime; the caller must not modify it.
	Peer() []byte
	// State is the forwarder's state for the request, which the codec
	// keeps by value and reuses for the next request.
	State() *StreamState
	// Bytes returns the bytes of the request read so far (head and body)
	// and of the response written so far.
	Bytes() (received, sent int64)
	// Wait waits on behalf of a filter ([httpfilter.Waiter]).
	httpfilter.Waiter
	// Reply sends a complete local response and reports whether the
	// connection may carry another request.
	Reply(r LocalReply) bool
	// CloseAfter makes the connection close, gracefully, after the
	// response: the request's input was not read whole.
	CloseAfter()
	// WriteHead queues the final response head with the status, reason
	// and headers given; closing asks the client to close the connection.
	// The body follows through the upstream exchange.
	WriteHead(status int, reason []byte, headers []route.Header, closing bool)

	// The generic body path, for an upstream codec that does not know
	// this codec (between two codecs that know each other the body moves
	// buffer to buffer, as io.Copy finds WriterTo and ReaderFrom).

	// ReadBody reads the request body with its framing removed, io.EOF
	// at its end. A failure to read from the client is a [SourceError]; a
	// body that breaks its framing wraps [ErrMalformedBody].
	ReadBody(p []byte) (int, error)
	// Trailers appends the request's trailer fields to dst, once ReadBody
	// returned io.EOF.
	Trailers(dst []route.Header) []route.Header
	// WriteBody queues response body bytes after WriteHead; the codec
	// frames them as the head it wrote says.
	WriteBody(p []byte) error
	// WriteTrailers ends the response body, with trailer fields where the
	// codec's framing carries them (none: nil).
	WriteTrailers(trailers []route.Header) error
	// Flush writes the queued response bytes to the client.
	Flush() error
}

// Framing is what the forwarder needs to know of a request's framing.
type Framing struct {
	HasBody bool // a body follows the head
	// Replayable: no body and an idempotent method (RFC 9110 9.2.2), so
	// it can be sent again after a reused connection turned out closed.
	Replayable bool
	Upgrade    bool // the client asks for a protocol upgrade
	// UpgradeType is the protocol the client asks to upgrade to (its
	// Upgrade field), when Upgrade is set.
	UpgradeType []byte
	Expect100   bool // the client waits for 100 Continue before its body
	Head        bool // a HEAD request: the response has no body
	Close       bool // the connection closes after this request
	// HTTP2: the request came over HTTP/2, so a cluster that uses the
	// downstream's protocol speaks HTTP/2 upstream.
	HTTP2 bool
}

// LocalReply is a response the proxy makes itself.
type LocalReply struct {
	Code    int
	Body    string
	Headers []string // "name: value" lines
	Close   bool     // close the connection after it
}

// StreamState is the forwarder's state for one request. A codec keeps one
// per connection by value, so a request allocates none.
type StreamState struct {
	Info stream.Info
	// Now is the forwarder's latest reading of the clock while nothing
	// that can block has run since, or zero. A codec called by the
	// forwarder may use it for deadlines instead of reading the clock
	// (which costs 100-300 ns on a virtual machine) as long as it has not
	// blocked itself; a Wait clears it. After Serve returns it is the
	// request's end.
	Now     time.Time
	filters requestFilters
	// xfcc holds the request's x-forwarded-client-cert value when the
	// forwarder set it; reused from one request to the next.
	xfcc    []byte
	headers headerState
	// log holds what the access logs read of the request's heads, and tap
	// the stream as the upstream codec sees it when they read trailers.
	log accesslog.Capture
	tap trailerTap
	// reqTap and respTap run the HTTP filters' body hooks (bodytap.go).
	reqTap  requestTap
	respTap responseTap
	// hold keeps a response an HTTP filter holds whole (hold.go).
	hold holdTap
}

// Exchange is one request on an upstream connection as an upstream codec
// (HTTP/1 today) presents it to the forwarder. The body moves codec to
// codec: an upstream codec relays to the server codecs it knows by type,
// as io.Copy finds WriterTo and ReaderFrom.
type Exchange interface {
	// Send writes st's request head, as rt rewrites it, and its body.
	Send(st Stream, rt *route.Route, skipXFF bool, idle time.Duration) error
	// ReadHead reads response heads until a final one (or 101), relaying
	// interim ones to st. Reads wait at most idle each and end by hard
	// (zero: none). touched says whether an interim head reached st.
	ReadHead(st Stream, idle time.Duration, hard time.Time) (h ResponseHead, touched bool, err error)
	// Headers appends the response's header fields to dst.
	Headers(dst []route.Header) []route.Header
	// WriteHead writes the response head to st unchanged.
	WriteHead(st Stream, closing bool)
	// CopyBody relays the response body to st and flushes it.
	CopyBody(st Stream, bodyless bool) error
	// Tunnel relays bytes both ways after 101 until both sides end.
	Tunnel(st Stream) error
	// Stale reports whether the connection, taken from the pool, closed
	// before any byte of a response arrived.
	Stale() bool
	// Reusable reports whether the connection may carry another request
	// after this complete exchange.
	Reusable() bool
	// Done ends the exchange: the connection goes back to ep's pool when
	// keep is set, else it is closed.
	Done(ep *cluster.Endpoint, keep bool)
}

// ResponseHead is what the forwarder knows of an upstream response head.
type ResponseHead struct {
	Status int
	Reason []byte // the status line's reason phrase, e.g. "OK"
	// Bodyless: no body follows, whatever the framing headers say.
	Bodyless bool
	// Delimited: the body ends when the upstream closes the connection,
	// so the client's cannot be reused either.
	Delimited bool
	// GRPC is 1 + the grpc-status of a gRPC response whose head carries
	// one (a trailers-only response, as Envoy's gRPC retry conditions
	// read it); 0: none.
	GRPC int
}
