// Package grpcstats is Envoy's envoy.filters.http.grpc_stats HTTP filter:
// per-cluster counts of gRPC calls by outcome and of their messages each
// way, named cluster.<name>.grpc.<service>.<method>.<stat> for the
// methods it names and cluster.<name>.grpc.<stat> for the others, as
// Envoy names them.
//
// A call is a request whose content-type is application/grpc (or
// application/grpc+…, application/grpc;…) with a /<service>/<method>
// path. Its outcome is the grpc-status of the response's head (a
// trailers-only response) or trailers: success for 0, failure otherwise,
// and total either way, with a counter per status code 0 to 16. Messages
// are counted in the request and response bodies as they stream,
// whatever the codecs on either side (HTTP/1.1 or HTTP/2).
//
// A call the forwarder answers itself once it picked the cluster (no
// healthy upstream, an upstream failure or timeout) counts with the
// grpc-status Envoy's local reply carries (UNAVAILABLE for 502, 503, 504).
// Unlike Envoy's filter, a call a filter answers (rate limit, RBAC) is not
// counted: its reply comes before the cluster is picked (Stream.Cluster
// is empty then).
package grpcstats

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func init() { httpfilter.Register(builder{}) }

type builder struct{}

func (builder) TypeURL() string { return spec.GRPCStatsType }

// Build compiles a *spec.GRPCStats. Its table of stats is kept in
// env.State under the scope and configuration, so an update that keeps
// the filter keeps its bound on named methods.
func (builder) Build(cfg any, env httpfilter.Env) (httpfilter.Filter, error) {
	c, ok := cfg.(*spec.GRPCStats)
	if !ok {
		return nil, fmt.Errorf("grpc_stats: config is %T, want *spec.GRPCStats", cfg)
	}
	key := fmt.Sprintf("grpc_stats %s %+v", env.Scope, *c)
	t := env.State.Get(key, func() any { return newTable(c, env) }).(*table)
	return &filter{table: t}, nil
}

// filter is the compiled grpc_stats filter, shared by every request of a
// snapshot.
type filter struct{ table *table }

var (
	_ httpfilter.ResponseHeadersFilter  = (*filter)(nil)
	_ httpfilter.RequestBodyFilter      = (*filter)(nil)
	_ httpfilter.ResponseBodyFilter     = (*filter)(nil)
	_ httpfilter.ResponseTrailersFilter = (*filter)(nil)
	_ httpfilter.LocalReplyFilter       = (*filter)(nil)
)

// localKey keeps a [call] per stream.
var localKey = &httpfilter.LocalKey{Name: "grpc_stats"}

// call is one request's state, reused by the stream's next request. The
// request side (req, reqStats, sent) is written by the request-body hook,
// which may run on the upstream codec's goroutine; the rest by the
// response hooks on the stream's.
type call struct {
	f        *filter
	track    bool   // a gRPC call: count it
	path     []byte // the request's path, kept: the head's buffers go
	reqStats *Stats
	req      frames
	// sent is when the request body ended (Unix ns), for upstream_rq_time;
	// atomic since a gRPC server may answer before the client's body ends.
	sent atomic.Int64

	respStats *Stats
	grpcResp  bool // the response is a gRPC one with a body
	resp      frames
	ended     bool // the outcome is counted
}

func newCall() any { return new(call) }

// reset readies c for a new request, keeping its path buffer.
func (c *call) reset() {
	c.f, c.track, c.path = nil, false, c.path[:0]
	c.reqStats, c.req = nil, frames{}
	c.sent.Store(0)
	c.respStats, c.grpcResp, c.resp, c.ended = nil, false, frames{}, false
}

// RequestHeaders starts counting a gRPC call.
func (f *filter) RequestHeaders(s *httpfilter.Stream) httpfilter.Status {
	c := s.Local(localKey, newCall).(*call)
	c.reset()
	ct, _ := s.Request.Header("content-type")
	if !isGRPC(ct) {
		return httpfilter.Continue
	}
	if _, _, ok := splitPath(s.Request.Path); !ok {
		return httpfilter.Continue
	}
	c.f, c.track = f, true
	c.path = append(c.path, s.Request.Path...)
	s.WatchBody()
	return httpfilter.Continue
}

// isGRPC reports whether a content-type is gRPC's, as Envoy's
// Grpc::Common::hasGrpcContentType.
func isGRPC(ct []byte) bool {
	rest, ok := bytes.CutPrefix(ct, []byte("application/grpc"))
	return ok && (len(rest) == 0 || rest[0] == '+' || rest[0] == ';')
}

// call returns the stream's call when f counts it.
func (f *filter) call(s *httpfilter.Stream) *call {
	c := s.Local(localKey, newCall).(*call)
	if !c.track || c.f != f {
		return nil
	}
	return c
}

// stats returns the call's stats in *p, looked up once the forwarder has
// picked the cluster; nil before.
func (c *call) stats(s *httpfilter.Stream, p **Stats) *Stats {
	if *p == nil && s.Cluster != "" {
		*p = c.f.table.lookup(s.Cluster, c.path)
	}
	return *p
}

// RequestBody counts the request's messages.
func (f *filter) RequestBody(s *httpfilter.Stream, chunk []byte, end bool) httpfilter.Status {
	c := f.call(s)
	if c == nil {
		return httpfilter.Continue
	}
	if n := c.req.count(chunk); n > 0 {
		if st := c.stats(s, &c.reqStats); st != nil {
			st.RequestMessages.Add(n)
		}
	}
	if end && f.table.upstream {
		c.sent.Store(time.Now().UnixNano())
	}
	return httpfilter.Continue
}

// ResponseHeaders counts a trailers-only response's outcome, and notes
// whether a gRPC body follows.
func (f *filter) ResponseHeaders(s *httpfilter.Stream, r *httpfilter.Response) httpfilter.Status {
	c := f.call(s)
	if c == nil {
		return httpfilter.Continue
	}
	if code, ok := header(r.Headers, "grpc-status"); ok {
		c.end(s, code, true)
		return httpfilter.Continue
	}
	ct, _ := header(r.Headers, "content-type")
	c.grpcResp = r.Status == 200 && isGRPC(ct)
	return httpfilter.Continue
}

// ResponseBody counts the response's messages.
func (f *filter) ResponseBody(s *httpfilter.Stream, chunk []byte, _ bool) httpfilter.Status {
	c := f.call(s)
	if c == nil || !c.grpcResp {
		return httpfilter.Continue
	}
	if n := c.resp.count(chunk); n > 0 {
		if st := c.stats(s, &c.respStats); st != nil {
			st.ResponseMessages.Add(n)
		}
	}
	return httpfilter.Continue
}

// ResponseTrailers counts the call's outcome from its trailers.
func (f *filter) ResponseTrailers(s *httpfilter.Stream, trailers []route.Header) {
	if c := f.call(s); c != nil {
		if code, ok := header(trailers, "grpc-status"); ok {
			c.end(s, code, true)
		}
	}
}

// LocalReply counts a call the forwarder answered itself, with the
// grpc-status its local reply carries, unless its outcome is counted
// already (a reply replacing an upstream response with one).
func (f *filter) LocalReply(s *httpfilter.Stream, status int) {
	if c := f.call(s); c != nil && !c.ended {
		c.end(s, statusText[route.GRPCStatusFromHTTP(status)], false)
	}
}

// statusText are the gRPC status codes as grpc-status carries them.
var statusText = func() (t [maxStatus + 1][]byte) {
	for i := range t {
		t[i] = []byte(strconv.Itoa(i))
	}
	return t
}()

// end counts the call's outcome, and when upstream is set its upstream
// time if asked: from the end of the request body to the outcome, as
// Envoy's from the last upstream byte sent to the last received.
func (c *call) end(s *httpfilter.Stream, code []byte, upstream bool) {
	st := c.stats(s, &c.respStats)
	if st == nil {
		return
	}
	c.ended = true
	st.count(code)
	if sent := c.sent.Load(); upstream && st.UpstreamTime != nil && sent != 0 {
		st.UpstreamTime.Record(time.Since(time.Unix(0, sent)))
	}
}

// header returns the value of the first field named name (lower case).
func header(hs []route.Header, name string) ([]byte, bool) {
	for i := range hs {
		if ascii.EqualFoldLower(hs[i].Name, name) {
			return hs[i].Value, true
		}
	}
	return nil, false
}
