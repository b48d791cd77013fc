package forward

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// exchange sends the request to ep and relays the response to the client.
// On failure it says how the attempt failed, so the caller can decide on
// another one.
func (f *forwarder) exchange(rt *route.Route, cl *cluster.Cluster, ep *cluster.Endpoint, o attemptOpts) (result, *attemptError) {
	if fail := f.acquireConn(cl, o.deadline); fail != nil {
		return result{}, fail
	}
	defer cl.Stats.Cx.Release()
	ep.Inflight.Add(1)
	defer ep.Inflight.Add(-1)
	ep.Requests.Add(1)
	ex, reused, err := f.dial(cl, ep, o.deadline)
	if err != nil {
		if !o.deadline.IsZero() && !time.Now().Before(o.deadline) {
			return result{}, &attemptError{failTimeout, err}
		}
		f.failedConnect(err)
		return result{}, &attemptError{failConnect, err}
	}
	if !reused {
		f.blocked() // the dial
	}
	err = ex.Send(f.st, rt, f.cfg.SkipXFF, o.idle)
	if f.st.Framing().HasBody {
		f.blocked() // the upload
	}
	if err == nil {
		f.sent(ex)
	} else {
		fail := sendFailure(err, reused, f.st.Framing())
		if fail.kind == failUpload {
			return f.earlyResponse(ex, ep, o, fail)
		}
		ex.Done(ep, false)
		return result{}, fail
	}
	res, upKeep, fail := f.relay(ex, o)
	f.blocked()
	if fail != nil {
		if fail.kind == failReset && reused && ex.Stale() && f.st.Framing().Replayable {
			fail.kind = failStale
		}
		ex.Done(ep, false)
		return res, fail // the status, if a head arrived, is the outcome's
	}
	ex.Done(ep, upKeep)
	return res, nil
}

// acquireConn takes one of the cluster's max_connections slots for an
// attempt. When none is free the attempt waits as a pending request
// (upstream_cx_overflow) until the route's deadline (then 504) or, without
// one, the connect timeout (then 503 overflow); beyond
// max_pending_requests it fails at once (upstream_rq_pending_overflow), as
// in Envoy's HTTP/1.1 pool.
func (f *forwarder) acquireConn(cl *cluster.Cluster, deadline time.Time) *attemptError {
	st := cl.Stats
	if st.Cx.Acquire(cl.Limits.MaxConnections) {
		return nil
	}
	f.blocked()
	st.CxOverflow.Add(1)
	if n := st.RqPending.Add(1); cl.Limits.MaxPending != 0 && n > cl.Limits.MaxPending {
		st.RqPending.Add(-1)
		st.OverflowRq.Add(1)
		return &attemptError{failOverflow, errOverflow}
	}
	defer st.RqPending.Add(-1)
	wait := deadline
	if wait.IsZero() {
		wait = time.Now().Add(cl.ConnectTimeout)
	}
	if st.Cx.Wait(cl.Limits.MaxConnections, wait) {
		return nil
	}
	if !deadline.IsZero() {
		return &attemptError{failTimeout, errDeadline} // the route timeout: 504
	}
	st.OverflowRq.Add(1)
	return &attemptError{failOverflow, errOverflow}
}

var errOverflow = errors.New("upstream overflow")

// sendFailure classifies an error from sending a request framed as fr.
func sendFailure(err error, reused bool, fr Framing) *attemptError {
	var src *SourceError
	switch {
	case errors.Is(err, ErrMalformedBody):
		return &attemptError{failClient, err}
	case errors.As(err, &src) && errors.Is(err, os.ErrDeadlineExceeded):
		return &attemptError{failClientTimeout, err}
	case src != nil:
		return &attemptError{failClient, err}
	case fr.HasBody:
		// The upstream failed while the body was being sent to it: the
		// body cannot be sent again.
		return &attemptError{failUpload, err}
	case reused && fr.Replayable:
		return &attemptError{failStale, err}
	}
	return &attemptError{failReset, err}
}

// relay reads the upstream response and writes it to the client. It
// reports whether the upstream connection can be reused.
func (f *forwarder) relay(ex Exchange, o attemptOpts) (result, bool, *attemptError) {
	var res result
	h, touched, err := ex.ReadHead(f.st, o.idle, f.hardDeadline(o.timeout))
	if err != nil {
		return res, false, headFailure(err, touched)
	}
	f.info.FirstUpstreamByte = time.Since(f.info.Start)
	f.ss.Now = f.info.Start.Add(f.info.FirstUpstreamByte)
	res.status = h.Status
	if o.retryStatus != nil && !touched && retries(o.retryStatus, &h) {
		return res, false, &attemptError{failStatus, fmt.Errorf("upstream answered %d", h.Status)}
	}
	fr := f.st.Framing()
	if h.Status == 101 && fr.Upgrade {
		return res, false, relayFailure(ex.Tunnel(f.st))
	}
	res.keep = !fr.Close && !h.Delimited
	client := f.st
	f.st = f.hold()
	replied, keep := f.writeHead(ex, &h, !res.keep)
	if replied {
		f.st = client
		return result{status: f.ss.filters.stream.Reply.Status, keep: keep}, false, nil
	}
	err = ex.CopyBody(f.bodyStream(), h.Bodyless)
	if t, held := f.st.(*holdTap); held {
		f.st = client
		return f.relayHeld(t, ex, res, err)
	}
	if err != nil {
		var src *SourceError
		if !errors.As(err, &src) {
			f.info.Flags |= stream.DownstreamConnectionTermination
		}
		return res, false, relayFailure(err)
	}
	return res, ex.Reusable(), nil
}

// writeHead writes the response head h of ex to the client, through the
// HTTP filters' response-headers hooks, the route's header edits and the
// access logs when any wants it. replied and keep are as
// writeFilteredHead reports them.
func (f *forwarder) writeHead(ex Exchange, h *ResponseHead, closing bool) (replied, keep bool) {
	if f.ss.filters.stream.WantsResponseHeaders() || f.editsResponse(f.rt) || f.cfg.AccessLog.WantsResponse() {
		return f.writeFilteredHead(ex, h, closing)
	}
	ex.WriteHead(f.st, closing)
	return false, false
}

// retries reports whether p retries a response with head h: by its
// status, or by the grpc-status it carries.
func retries(p *route.Retry, h *ResponseHead) bool {
	return p.RetriesStatus(h.Status) || h.GRPC > 0 && p.RetriesGRPC(h.GRPC-1)
}

// headFailure classifies an error while waiting for the response head.
func headFailure(err error, touched bool) *attemptError {
	switch {
	case touched:
		return &attemptError{failRelay, err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &attemptError{failTimeout, err}
	case errors.Is(err, ErrMalformedResponse):
		return &attemptError{failBadResponse, err}
	}
	return &attemptError{failReset, err}
}

func relayFailure(err error) *attemptError {
	if err == nil {
		return nil
	}
	return &attemptError{failRelay, err}
}
