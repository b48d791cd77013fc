package forward

import (
	"errors"
	"io"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
)

// The HTTP filters' body hooks. They run only for a request whose filters
// asked for its body (httpfilter.Stream.WatchBody): its client stream is
// then wrapped by a tap, which an upstream codec that knows the client's
// codec does not know, so the body takes the generic path (as with
// trailerTap). Other requests keep the direct path and pay a nil check.

// errBodyStopped: a body hook returned something other than Continue,
// which body hooks may not (there is no local reply after a head).
var errBodyStopped = errors.New("an HTTP filter stopped the request body")

// tapRequest wraps f's stream so that its request body, read by the
// upstream codec, goes through the request-body hooks. The tap is the
// innermost wrapper: a retry replays the body without the hooks seeing it
// again, as Envoy's filters see the downstream body once.
func (f *forwarder) tapRequest() {
	fs := &f.ss.filters.stream
	if !fs.WantsRequestBody() || !f.st.Framing().HasBody {
		return
	}
	f.ss.reqTap = requestTap{Stream: f.st, chain: f.cfg.Filters, fs: fs}
	f.st = &f.ss.reqTap
}

// requestTap is a client stream whose body passes the request-body hooks.
// Its ReadBody may run on the upstream codec's pump goroutine.
type requestTap struct {
	Stream
	chain *httpfilter.Chain
	fs    *httpfilter.Stream
	ended bool
}

// ReadBody implements [Stream].
func (t *requestTap) ReadBody(p []byte) (int, error) {
	n, err := t.Stream.ReadBody(p)
	if t.ended || n == 0 && err != io.EOF {
		return n, err
	}
	t.ended = err == io.EOF
	if t.chain.RequestBody(t.fs, p[:n], t.ended) != httpfilter.Continue {
		return n, &SourceError{Err: errBodyStopped}
	}
	return n, err
}

// Reply implements [Stream]: the filters are told of the forwarder's own
// reply (the tap is in place once the cluster is picked) before it goes.
func (t *requestTap) Reply(r LocalReply) bool {
	t.chain.LocalReply(t.fs, r.Code)
	return t.Stream.Reply(r)
}

// tapResponse returns st wrapped so that the response body and trailers
// the upstream codec writes to it pass the response-body and trailers
// hooks, or st itself when no filter asked.
func (f *forwarder) tapResponse(st Stream) Stream {
	fs := &f.ss.filters.stream
	if !fs.WantsResponseBody() {
		return st
	}
	f.ss.respTap = responseTap{Stream: st, chain: f.cfg.Filters, fs: fs}
	return &f.ss.respTap
}

// responseTap is a client stream whose response body and trailers pass
// the response hooks.
type responseTap struct {
	Stream
	chain *httpfilter.Chain
	fs    *httpfilter.Stream
}

// WriteBody implements [Stream].
func (t *responseTap) WriteBody(p []byte) error {
	if t.chain.ResponseBody(t.fs, p, false) != httpfilter.Continue {
		return errBodyStopped
	}
	return t.Stream.WriteBody(p)
}

// WriteTrailers implements [Stream].
func (t *responseTap) WriteTrailers(trailers []route.Header) error {
	if t.chain.ResponseBody(t.fs, nil, true) != httpfilter.Continue {
		return errBodyStopped
	}
	t.chain.ResponseTrailers(t.fs, trailers)
	return t.Stream.WriteTrailers(trailers)
}
