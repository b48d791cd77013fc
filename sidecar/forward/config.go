// Package forward is the codec-neutral HTTP forwarder: route, HTTP filter
// chain, pick (with the pick's Done), retry budget and redispatch,
// timeouts, circuit breakers and the upstream exchange. It sees a request
// only as a [Stream] that a server codec (sidecar/l7's HTTP/1 today)
// presents, and an upstream connection only as an [Exchange] of an
// upstream codec: it never sees the bytes of a wire format, so a second
// codec (HTTP/2) can be added on either side without touching it.
package forward

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/sidecar/accesslog"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Stats are an HTTP listener's counters, named after Envoy's
// http.<stat_prefix>.downstream_* statistics. The server codec counts the
// connections, the forwarder the requests.
type Stats struct {
	CxTotal              atomic.Uint64   // downstream_cx_total
	CxActive             atomic.Int64    // downstream_cx_active
	RqTotal              atomic.Uint64   // downstream_rq_total
	cluster.StatusCounts                 // downstream_rq_2xx ... downstream_rq_5xx
	RqTime               stats.Histogram // downstream_rq_time, ms
}

// Config is what the forwarder needs of one HTTP listener's configuration
// in one snapshot. Immutable once published.
type Config struct {
	Listener string
	Routes   *route.Table
	// Filters run after the route match, before the router; nil: none.
	Filters *httpfilter.Chain
	// StreamIdle bounds every wait for bytes from the client or the
	// upstream, every wait to write to either, and how long a keep-alive
	// connection may stay idle; 0: no bound.
	StreamIdle time.Duration
	// SkipXFF leaves X-Forwarded-For as the client sent it instead of
	// appending the peer address (Envoy's use_remote_address false).
	SkipXFF bool
	// NormalizePath and MergeSlashes normalize the request path before
	// routing and forwarding (see [NormalizePath]).
	NormalizePath, MergeSlashes bool
	// XFCC says what becomes of the x-forwarded-client-cert header.
	XFCC  spec.XFCC
	Stats *Stats
	// StreamDone receives each request's stream info once it has been
	// answered; nil: none.
	StreamDone stream.Sink
	// Describe fills each stream's Info.Protocol, Downstream and Local
	// (through [Describer]) for header formats and access logs.
	Describe bool
	// RequestID is the x-request-id policy.
	RequestID RequestID
	// AccessLog is the listener's access logs; nil: none.
	AccessLog *accesslog.Set
	// EnvoyHeaders adds x-envoy-expected-rq-timeout-ms to upstream
	// requests and x-envoy-upstream-service-time to their responses (the
	// router's suppress_envoy_headers false).
	EnvoyHeaders bool
	// Upstream makes the upstream codec's [Exchange] for a new upstream
	// connection. Envoy chooses it per cluster from its protocol options;
	// with one upstream codec the server codec sets it.
	Upstream func(net.Conn) Exchange
	// Mux opens an exchange on a multiplexed (HTTP/2) connection to ep,
	// pooled or new, and says whether it was pooled: the upstream codec of
	// clusters whose protocol is HTTP/2, or the client's when that is
	// HTTP/2 (spec.UpstreamHTTP), and of clusters that choose by ALPN
	// (spec.UpstreamAuto), for which it may return an HTTP/1 exchange.
	// Nil: every cluster gets Upstream's.
	Mux func(cl *cluster.Cluster, ep *cluster.Endpoint, deadline time.Time) (Exchange, bool, error)
	// Upgrades are the listener's upgrade_configs; a request asking for
	// an upgrade neither they nor its route enable is answered 403.
	Upgrades []spec.Upgrade
}

// Errors a codec returns, wrapped or not, where the forwarder decides on
// them: who is to blame, and whether to try again.
var (
	// ErrMalformedBody is a body that breaks its framing.
	ErrMalformedBody = errors.New("malformed body")
	// ErrMalformedResponse is an upstream response head that cannot be
	// parsed or is too large.
	ErrMalformedResponse = errors.New("malformed response from upstream")
	// ErrUpstreamReset is the upstream resetting the request's stream
	// (HTTP/2 RST_STREAM) before a response head: 503 with flag UR, as
	// Envoy answers a remote reset.
	ErrUpstreamReset = errors.New("upstream reset the stream")
)

// SourceError is a failure to read a body from the side that sends it, as
// opposed to a failure to write it on to the other side: the two are
// blamed on different parties (issue 7, item 6).
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "reading body: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }
