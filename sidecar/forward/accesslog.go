package forward

import (
	"net"
	"time"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// The access logs' hooks. Each does nothing, and costs a nil check, when
// the listener has no access log.

// captureRequest copies what the access logs read of the request head,
// as it stands (again after the route rewrote it). A request without a
// body is whole once its head is read.
func (f *forwarder) captureRequest() {
	al := f.cfg.AccessLog
	if al == nil {
		return
	}
	al.Request(&f.ss.log, f.st.Request())
	if f.info.RequestDone == 0 && !f.st.Framing().HasBody {
		f.info.RequestDone = max(f.clock().Sub(f.info.Start), 1)
	}
}

// sent notes that the request went upstream whole over ex: its body is
// read, and ex's connection has a local address.
func (f *forwarder) sent(ex Exchange) {
	if f.cfg.AccessLog == nil {
		return
	}
	if f.info.RequestDone == 0 {
		f.info.RequestDone = max(time.Since(f.info.Start), 1)
	}
	if la, ok := ex.(interface{ LocalAddr() net.Addr }); ok {
		f.info.Addrs.UpstreamLocal = stream.AddrPort(la.LocalAddr())
	}
}

// failedConnect notes why the upstream connection failed, for
// %UPSTREAM_TRANSPORT_FAILURE_REASON%.
func (f *forwarder) failedConnect(err error) {
	if f.cfg.AccessLog != nil {
		f.info.UpstreamFailure = err.Error()
	}
}

// bodyStream returns the stream the upstream codec relays the response
// body to: the client's, or a tap that captures its trailers when the
// access logs read them, under the HTTP filters' response tap when they
// watch the body.
func (f *forwarder) bodyStream() Stream {
	if !f.cfg.AccessLog.WantsTrailers() {
		return f.tapResponse(f.st)
	}
	f.ss.tap = trailerTap{Stream: f.st, logs: f.cfg.AccessLog, capture: &f.ss.log}
	return f.tapResponse(&f.ss.tap)
}

// trailerTap is a client stream that captures the response trailers on
// their way to it. An upstream codec that knows the client's codec does
// not know the tap, so the body takes the generic path.
type trailerTap struct {
	Stream
	logs    *accesslog.Set
	capture *accesslog.Capture
}

// WriteTrailers implements [Stream].
func (t *trailerTap) WriteTrailers(trailers []route.Header) error {
	t.logs.Trailers(t.capture, trailers)
	return t.Stream.WriteTrailers(trailers)
}
