package grpcstats

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stats"
)

// registry is a test's stats by full name, as the sidecar keeps them.
type registry struct {
	mu       sync.Mutex
	counters map[string]*atomic.Uint64
	hists    map[string]*stats.Histogram
}

func newRegistry() *registry {
	return &registry{counters: map[string]*atomic.Uint64{}, hists: map[string]*stats.Histogram{}}
}

func (r *registry) env() httpfilter.Env {
	return httpfilter.Env{Scope: "l", State: new(httpfilter.State).Next(),
		Counter: func(name string) *atomic.Uint64 {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.counters[name] == nil {
				r.counters[name] = new(atomic.Uint64)
			}
			return r.counters[name]
		},
		Histogram: func(name string) *stats.Histogram {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.hists[name] == nil {
				r.hists[name] = new(stats.Histogram)
			}
			return r.hists[name]
		}}
}

// nonZero returns the counters that are not 0, and each histogram's count
// under its name.
func (r *registry) nonZero() map[string]uint64 {
	out := map[string]uint64{}
	for n, c := range r.counters {
		if v := c.Load(); v != 0 {
			out[n] = v
		}
	}
	for n, h := range r.hists {
		if v := h.Read().Count; v != 0 {
			out[n] = v
		}
	}
	return out
}

func compile(t testing.TB, c *spec.GRPCStats, env httpfilter.Env) *httpfilter.Chain {
	t.Helper()
	ch, err := httpfilter.Compile([]spec.HTTPFilter{{Name: "g", TypeURL: spec.GRPCStatsType, Config: c}}, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// exchange is one call as the forwarder runs the chain's hooks on it.
type exchange struct {
	path, contentType string
	reqBody           []byte
	status            int
	head              []route.Header // response head
	respBody          []byte
	trailers          []route.Header
	local             int                 // the forwarder's local reply instead of a response
	resp              httpfilter.Response // scratch for the hooks
}

func grpcStatus(code string) []route.Header {
	return []route.Header{{Name: []byte("grpc-status"), Value: []byte(code)}}
}

var grpcHead = []route.Header{{Name: []byte("content-type"), Value: []byte("application/grpc")}}

// unary is a call of path with one message each way ending with code.
func unary(path, code string) exchange {
	return exchange{path: path, contentType: "application/grpc", reqBody: msg(3), status: 200,
		head: grpcHead, respBody: msg(4), trailers: grpcStatus(code)}
}

// run runs e through c on s, in 7-byte body chunks, to cluster be.
func run(c *httpfilter.Chain, s *httpfilter.Stream, req *route.Request, e *exchange) {
	req.Path = append(req.Path[:0], e.path...)
	req.Headers = append(req.Headers[:0], route.Header{Name: contentType, Value: append(req.Headers[:1][0].Value[:0], e.contentType...)})
	s.Reset(req, nil)
	c.RequestHeaders(s, -1)
	s.Cluster = "be"
	for b := e.reqBody; ; b = b[7:] {
		if len(b) <= 7 {
			c.RequestBody(s, b, true)
			break
		}
		c.RequestBody(s, b[:7], false)
	}
	if e.local != 0 {
		c.LocalReply(s, e.local)
		return
	}
	e.resp = httpfilter.Response{Status: e.status, Headers: e.head}
	c.ResponseHeaders(s, &e.resp)
	for b := e.respBody; ; b = b[7:] {
		if len(b) <= 7 {
			c.ResponseBody(s, b, true)
			break
		}
		c.ResponseBody(s, b[:7], false)
	}
	c.ResponseTrailers(s, e.trailers)
}

var contentType = []byte("content-type")

// TestGRPCStats: each configuration names the stats Envoy's filter does,
// and counts outcomes and messages both ways.
func TestGRPCStats(t *testing.T) {
	streaming := exchange{path: "/pkg.S/Chat", contentType: "application/grpc+proto",
		reqBody: cat(msg(1), msg(0), msg(20)), status: 200, head: grpcHead,
		respBody: cat(msg(30), msg(2)), trailers: grpcStatus("0")}
	trailersOnly := exchange{path: "/pkg.S/Echo", contentType: "application/grpc", reqBody: msg(3), status: 200,
		head: append(append([]route.Header{}, grpcHead...), grpcStatus("14")...)}
	allow := map[string][]string{"pkg.S": {"Echo"}}
	tests := []struct {
		name  string
		cfg   spec.GRPCStats
		calls []exchange
		want  map[string]uint64
	}{
		{"generic by default", spec.GRPCStats{}, []exchange{unary("/pkg.S/Echo", "0"), unary("/pkg.S/Other", "2")}, map[string]uint64{
			"cluster.be.grpc.success": 1, "cluster.be.grpc.failure": 1, "cluster.be.grpc.total": 2,
			"cluster.be.grpc.request_message_count": 2, "cluster.be.grpc.response_message_count": 2,
			"cluster.be.grpc.0": 1, "cluster.be.grpc.2": 1}},
		{"allowlist", spec.GRPCStats{Allowlist: allow}, []exchange{unary("/pkg.S/Echo", "0"), unary("/pkg.S/Other", "0")}, map[string]uint64{
			"cluster.be.grpc.pkg.S.Echo.success": 1, "cluster.be.grpc.pkg.S.Echo.total": 1, "cluster.be.grpc.pkg.S.Echo.0": 1,
			"cluster.be.grpc.pkg.S.Echo.request_message_count": 1, "cluster.be.grpc.pkg.S.Echo.response_message_count": 1,
			"cluster.be.grpc.success": 1, "cluster.be.grpc.total": 1, "cluster.be.grpc.0": 1,
			"cluster.be.grpc.request_message_count": 1, "cluster.be.grpc.response_message_count": 1}},
		{"all methods, streaming", spec.GRPCStats{AllMethods: true}, []exchange{streaming}, map[string]uint64{
			"cluster.be.grpc.pkg.S.Chat.success": 1, "cluster.be.grpc.pkg.S.Chat.total": 1, "cluster.be.grpc.pkg.S.Chat.0": 1,
			"cluster.be.grpc.pkg.S.Chat.request_message_count": 3, "cluster.be.grpc.pkg.S.Chat.response_message_count": 2}},
		{"replace dots", spec.GRPCStats{AllMethods: true, ReplaceDots: true}, []exchange{unary("/a.b.S/M", "0")}, map[string]uint64{
			"cluster.be.grpc.a_b_S.M.success": 1, "cluster.be.grpc.a_b_S.M.total": 1, "cluster.be.grpc.a_b_S.M.0": 1,
			"cluster.be.grpc.a_b_S.M.request_message_count": 1, "cluster.be.grpc.a_b_S.M.response_message_count": 1}},
		{"trailers-only failure", spec.GRPCStats{Allowlist: allow}, []exchange{trailersOnly}, map[string]uint64{
			"cluster.be.grpc.pkg.S.Echo.failure": 1, "cluster.be.grpc.pkg.S.Echo.total": 1, "cluster.be.grpc.pkg.S.Echo.14": 1,
			"cluster.be.grpc.pkg.S.Echo.request_message_count": 1}},
		{"upstream time", spec.GRPCStats{AllMethods: true, UpstreamStats: true}, []exchange{unary("/pkg.S/Echo", "0")}, map[string]uint64{
			"cluster.be.grpc.pkg.S.Echo.success": 1, "cluster.be.grpc.pkg.S.Echo.total": 1, "cluster.be.grpc.pkg.S.Echo.0": 1,
			"cluster.be.grpc.pkg.S.Echo.request_message_count": 1, "cluster.be.grpc.pkg.S.Echo.response_message_count": 1,
			"cluster.be.grpc.pkg.S.Echo.upstream_rq_time": 1}},
		{"local reply", spec.GRPCStats{Allowlist: allow}, []exchange{func() exchange {
			e := unary("/pkg.S/Echo", "0")
			e.local = 503
			return e
		}()}, map[string]uint64{"cluster.be.grpc.pkg.S.Echo.failure": 1, "cluster.be.grpc.pkg.S.Echo.total": 1,
			"cluster.be.grpc.pkg.S.Echo.14": 1, "cluster.be.grpc.pkg.S.Echo.request_message_count": 1}},
		{"status out of range", spec.GRPCStats{}, []exchange{unary("/pkg.S/Echo", "99")}, map[string]uint64{
			"cluster.be.grpc.failure": 1, "cluster.be.grpc.total": 1,
			"cluster.be.grpc.request_message_count": 1, "cluster.be.grpc.response_message_count": 1}},
		{"not gRPC", spec.GRPCStats{AllMethods: true}, []exchange{func() exchange {
			e := unary("/pkg.S/Echo", "0")
			e.contentType = "application/grpc-web"
			return e
		}()}, map[string]uint64{}},
		{"not a gRPC path", spec.GRPCStats{AllMethods: true}, []exchange{unary("/pkg.S/Echo/x", "0"), unary("/Echo", "0"), unary("//Echo", "0")}, map[string]uint64{}},
		{"no grpc-status", spec.GRPCStats{}, []exchange{func() exchange {
			e := unary("/pkg.S/Echo", "0")
			e.trailers = nil
			return e
		}()}, map[string]uint64{"cluster.be.grpc.request_message_count": 1, "cluster.be.grpc.response_message_count": 1}},
		{"an HTTP error has no messages", spec.GRPCStats{}, []exchange{func() exchange {
			e := unary("/pkg.S/Echo", "0")
			e.status, e.head, e.trailers = 503, nil, nil
			return e
		}()}, map[string]uint64{"cluster.be.grpc.request_message_count": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry()
			c := compile(t, &tt.cfg, r.env())
			var s httpfilter.Stream
			req := route.Request{Headers: make([]route.Header, 1)}
			for i := range tt.calls {
				run(c, &s, &req, &tt.calls[i])
			}
			if diff := cmp.Diff(tt.want, r.nonZero()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGRPCStatsMethodBound: under stats_for_all_methods, methods past
// MaxMethods count under the cluster's generic stats.
func TestGRPCStatsMethodBound(t *testing.T) {
	r := newRegistry()
	c := compile(t, &spec.GRPCStats{AllMethods: true}, r.env())
	var s httpfilter.Stream
	req := route.Request{Headers: make([]route.Header, 1)}
	for i := range MaxMethods + 5 {
		e := unary(fmt.Sprintf("/S/M%d", i), "0")
		run(c, &s, &req, &e)
	}
	methods := 0
	for n := range r.nonZero() {
		if strings.HasSuffix(n, ".total") && n != "cluster.be.grpc.total" {
			methods++
		}
	}
	if methods != MaxMethods {
		t.Errorf("%d methods named, want %d", methods, MaxMethods)
	}
	if got := r.nonZero()["cluster.be.grpc.total"]; got != 5 {
		t.Errorf("generic total = %d, want 5", got)
	}
}

// TestGRPCStatsNoAllocs: once a method's stats exist, a call through
// every hook allocates nothing.
func TestGRPCStatsNoAllocs(t *testing.T) {
	for _, cfg := range []spec.GRPCStats{{}, {AllMethods: true, UpstreamStats: true}} {
		c := compile(t, &cfg, newRegistry().env())
		var s httpfilter.Stream
		req := route.Request{Headers: make([]route.Header, 1)}
		e := exchange{path: "/pkg.S/Chat", contentType: "application/grpc", reqBody: cat(msg(1), msg(20)),
			status: 200, head: grpcHead, respBody: cat(msg(30), msg(2)), trailers: grpcStatus("0")}
		run(c, &s, &req, &e)
		if n := testing.AllocsPerRun(100, func() { run(c, &s, &req, &e) }); n != 0 {
			t.Errorf("%+v: %v allocations per call, want 0", cfg, n)
		}
	}
}

// BenchmarkGRPCStatsCall is one streaming call through every hook, its
// stats already made.
func BenchmarkGRPCStatsCall(b *testing.B) {
	c := compile(b, &spec.GRPCStats{AllMethods: true}, newRegistry().env())
	var s httpfilter.Stream
	req := route.Request{Headers: make([]route.Header, 1)}
	e := exchange{path: "/pkg.S/Chat", contentType: "application/grpc", reqBody: cat(msg(1), msg(20)),
		status: 200, head: grpcHead, respBody: cat(msg(30), msg(2)), trailers: grpcStatus("0")}
	b.ReportAllocs()
	for b.Loop() {
		run(c, &s, &req, &e)
	}
}
