package httpfilter

import "github.com/meshlb/meshlb/sidecar/route"

// ResponseEnder is a filter that holds a response whole
// ([Stream.HoldResponse]), as an Envoy encoder filter that stops
// iteration on the headers and buffers the body, and edits its head once
// it has ended.
type ResponseEnder interface {
	// ResponseEnd sees the held response's head r once its body has
	// ended, with its trailers (none: empty), before the head is written.
	// It may change r's status and headers, not the framing headers
	// (content-length, transfer-encoding): the forwarder frames the held
	// body itself. It must not retain trailers.
	ResponseEnd(s *Stream, r *Response, trailers []route.Header)
}

// HoldResponse asks the forwarder to hold the response's head and body,
// up to max bytes of body, until the body ends, then to call e's
// ResponseEnd and write the head it leaves with the body, framed by a
// content-length. A body over max is answered with 500 instead, as Envoy
// answers a response a filter buffers past the connection's buffer limit
// before its head went out. A request-headers hook calls it.
func (s *Stream) HoldResponse(e ResponseEnder, max int) { s.hold, s.holdMax = e, max }

// HeldResponse returns what [Stream.HoldResponse] asked for: a nil
// ResponseEnder when no filter holds the response.
func (s *Stream) HeldResponse() (ResponseEnder, int) { return s.hold, s.holdMax }
