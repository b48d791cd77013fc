package forward

import (
	"errors"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// failKind says how an attempt failed.
type failKind int

const (
	failConnect       failKind = iota // the dial failed: nothing was sent
	failStale                         // a pooled connection was closed before the request reached the application
	failReset                         // the upstream closed or reset before a complete response head
	failTimeout                       // no response head within the timeout
	failStatus                        // a response the retry policy retries (not relayed)
	failBadResponse                   // a response that breaks HTTP/1.1 framing
	failClient                        // the client's body was malformed or the client went away
	failClientTimeout                 // the client's body did not arrive in time
	failUpload                        // the upstream failed while the request body was sent to it
	failOverflow                      // a circuit breaker refused the attempt
	failRelay                         // the response failed after it started to reach the client
)

// attemptError is a failed attempt.
type attemptError struct {
	kind failKind
	err  error
}

func (a *attemptError) Error() string { return a.err.Error() }

// result is a completed exchange.
type result struct {
	status int
	keep   bool
}

// failUpstream answers the last failed attempt: 504 for a timeout, 400 for
// a malformed request body, 502 otherwise, or a bare close when the
// response had already started.
func (f *forwarder) failUpstream(cl *cluster.Cluster, fail *attemptError) (int, bool) {
	if fail.kind != failRelay || f.info.Flags&stream.DownstreamConnectionTermination == 0 {
		f.info.Flags |= failFlags(fail)
	}
	switch fail.kind {
	case failRelay:
		return 502, false
	case failTimeout:
		cl.Stats.RqTimeout.Add(1)
		return 504, f.respondError(504, "upstream request timeout")
	case failConnect:
		return 502, f.respondError(502, "upstream connect error: "+fail.err.Error())
	case failClient:
		return 400, f.st.Reply(LocalReply{Code: 400, Body: "malformed request body\n", Close: true})
	case failOverflow:
		return 503, f.respondOverloaded("too many connections")
	case failClientTimeout:
		return 408, f.st.Reply(LocalReply{Code: 408, Body: "request body timeout\n", Close: true})
	case failUpload:
		return f.failUpload(cl, fail)
	case failBadResponse:
		return 502, f.respondError(502, "malformed response from upstream")
	case failReset:
		if errors.Is(fail.err, ErrUpstreamReset) {
			return 503, f.respondError(503, "upstream connect error or disconnect/reset before headers. reset reason: remote reset")
		}
	}
	return 502, f.respondError(502, "upstream closed the connection before responding")
}

// respondOverloaded answers 503 for a circuit breaker, as Envoy does.
func (f *forwarder) respondOverloaded(why string) bool {
	return f.st.Reply(LocalReply{Code: 503, Body: "upstream overflow: " + why + "\n", Headers: overloaded})
}

// dial returns a pooled connection to ep or a new one through the
// cluster's transport with the upstream codec, and whether it was pooled.
// Endpoint pools hold only Exchanges, which only the forwarder puts there.
func (f *forwarder) dial(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (Exchange, bool, error) {
	if f.cfg.Mux != nil && (f.multiplexed(cl) || cl.HTTP.Protocol == spec.UpstreamAuto) {
		return f.cfg.Mux(cl, ep, deadline)
	}
	if c := ep.Pool.GetAt(f.clock()); c != nil {
		return c.(Exchange), true, nil
	}
	c, err := cl.Dial(ep, deadline)
	if err != nil {
		return nil, false, err
	}
	return f.cfg.Upstream(c), false, nil
}

// multiplexed reports whether the request goes to cl over HTTP/2.
func (f *forwarder) multiplexed(cl *cluster.Cluster) bool {
	switch cl.HTTP.Protocol {
	case spec.UpstreamHTTP2:
		return true
	case spec.UpstreamDownstream:
		return f.st.Framing().HTTP2
	}
	return false
}

// outcome is what an attempt tells the balancer about its endpoint.
func outcome(res result, fail *attemptError) cluster.Outcome {
	o := cluster.Outcome{Status: res.status}
	if fail == nil {
		return o
	}
	switch fail.kind {
	case failConnect:
		o.Failure = cluster.ConnectFailure
	case failReset, failBadResponse, failUpload, failRelay:
		o.Failure = cluster.Reset
	case failTimeout:
		o.Failure = cluster.Timeout
		if fail.err == errDeadline { // waited for a connection slot
			o.Failure = cluster.LocalFailure
		}
	case failStatus: // a response the policy retries: the endpoint answered
	default: // failStale, failClient, failClientTimeout, failOverflow
		o.Failure = cluster.LocalFailure
	}
	return o
}
