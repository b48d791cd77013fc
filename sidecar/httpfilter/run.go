package httpfilter

import "github.com/meshlb/meshlb/sidecar/route"

// WatchBody asks for the body and trailers hooks to run on this
// request's bodies. A filter with such hooks calls it from its
// request-headers hook for the requests it wants to see (gRPC ones, for
// grpc_stats); the others keep the codecs' direct body path.
func (s *Stream) WatchBody() { s.watch = true }

// WantsRequestBody reports whether a filter asked for the request's body
// ([Stream.WatchBody]) and one the request runs has a request-body hook.
func (s *Stream) WantsRequestBody() bool {
	return s.watch && s.filters != nil && len(s.filters.reqBody) > 0
}

// WantsResponseBody reports whether a filter asked for the request's
// bodies ([Stream.WatchBody]) and one the request runs has a
// response-body or response-trailers hook.
func (s *Stream) WantsResponseBody() bool {
	return s.watch && s.filters != nil && (len(s.filters.respBody) > 0 || len(s.filters.trailers) > 0)
}

// Empty reports whether no request of the chain runs a filter.
func (c *Chain) Empty() bool {
	if c == nil {
		return true
	}
	if len(c.base.req) > 0 {
		return false
	}
	for _, l := range c.routes {
		if l != nil && len(l.req) > 0 {
			return false
		}
	}
	return true
}

// RequestHeaders runs the request-headers hooks of the filters of the route
// with index routeIndex (route.Route.Index; -1 when no route matched, for
// the listener's filters) on s, in order, until one
// stops. On [StopReply], s.Reply is the reply to send, with the response
// hooks of the filters before the one that replied already run on it (as
// Envoy's local replies pass through the encoder filters). s must have
// been [Stream.Reset] for this request.
func (c *Chain) RequestHeaders(s *Stream, routeIndex int) Status {
	if c == nil {
		return Continue
	}
	l := c.of(routeIndex)
	s.filters = l
	for i, f := range l.req {
		switch st := f.RequestHeaders(s); st {
		case Continue:
		case StopReply:
			s.stopped = i
			s.Flags |= s.Reply.Flag
			s.replyThrough(i)
			return st
		default:
			s.stopped = i
			return st
		}
	}
	s.stopped = len(l.req)
	return Continue
}

// WantsResponseHeaders reports whether [Chain.ResponseHeaders] would run
// any hook for s, so a codec converts a response head only when needed.
func (s *Stream) WantsResponseHeaders() bool {
	return s.filters != nil && s.filters.hasResp
}

// ResponseHeaders runs the response-headers hooks on the upstream response
// head r, in reverse order from the last filter that saw the request.
// On [StopReply] the response is replaced by s.Reply (the upstream
// response is to be discarded), which the hooks of earlier filters have
// seen.
func (c *Chain) ResponseHeaders(s *Stream, r *Response) Status {
	if !s.WantsResponseHeaders() {
		return Continue
	}
	for i := s.stopped - 1; i >= 0; i-- {
		f := s.filters.resp[i]
		if f == nil {
			continue
		}
		if st := f.ResponseHeaders(s, r); st != Continue {
			if st == StopReply {
				s.Flags |= s.Reply.Flag
				s.replyThrough(i)
			}
			return st
		}
	}
	return Continue
}

// replyThrough runs the response hooks of the filters before the i-th on
// s.Reply, on a copy of its headers. A hook that replies replaces the
// reply; the rest see the new one.
func (s *Stream) replyThrough(i int) {
	if !s.filters.hasResp || i == 0 {
		return
	}
	r := &s.scratch
	r.Status = s.Reply.Status
	r.Headers = append(r.Headers[:0], s.Reply.Headers...)
	for i--; i >= 0; i-- {
		f := s.filters.resp[i]
		if f == nil {
			continue
		}
		if f.ResponseHeaders(s, r) == StopReply {
			r.Status = s.Reply.Status
			r.Headers = append(r.Headers[:0], s.Reply.Headers...)
		}
	}
	s.Reply.Status, s.Reply.Headers = r.Status, r.Headers
}

// RequestBody runs the request-body hooks on one chunk of the body, the
// last with end set, until one stops.
func (c *Chain) RequestBody(s *Stream, chunk []byte, end bool) Status {
	if s.filters == nil {
		return Continue
	}
	for _, f := range s.filters.reqBody {
		if st := f.RequestBody(s, chunk, end); st != Continue {
			return st
		}
	}
	return Continue
}

// ResponseBody runs the response-body hooks, in reverse order, on one
// chunk of the response body, the last with end set.
func (c *Chain) ResponseBody(s *Stream, chunk []byte, end bool) Status {
	if s.filters == nil {
		return Continue
	}
	for i := len(s.filters.respBody) - 1; i >= 0; i-- {
		if st := s.filters.respBody[i].ResponseBody(s, chunk, end); st != Continue {
			return st
		}
	}
	return Continue
}

// ResponseTrailers runs the response-trailers hooks, in reverse order, on
// the response's trailers (empty when it has none).
func (c *Chain) ResponseTrailers(s *Stream, trailers []route.Header) {
	if s.filters == nil {
		return
	}
	for i := len(s.filters.trailers) - 1; i >= 0; i-- {
		s.filters.trailers[i].ResponseTrailers(s, trailers)
	}
}

// LocalReply runs the local-reply hooks, in reverse order, for a reply
// with status the forwarder makes after picking the cluster.
func (c *Chain) LocalReply(s *Stream, status int) {
	if s.filters == nil {
		return
	}
	for i := len(s.filters.local) - 1; i >= 0; i-- {
		s.filters.local[i].LocalReply(s, status)
	}
}
