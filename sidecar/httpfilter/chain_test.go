package httpfilter

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// traceType is a test filter: it records its hooks in a shared log, adds
// a request header, and replies when its config says so.
const traceType = "type.googleapis.com/test.Trace"

type traceConfig struct {
	name  string
	reply int // status to reply with from RequestHeaders; 0: continue
	// respReply, when set, replaces the response from ResponseHeaders.
	respReply int
}

type traceBuilder struct{}

func (traceBuilder) TypeURL() string { return traceType }

func (traceBuilder) Build(cfg any, env Env) (Filter, error) {
	c := cfg.(*traceConfig)
	if c.name == "off" {
		return nil, nil
	}
	return &trace{c: *c, scope: env.Scope}, nil
}

func init() { Register(traceBuilder{}) }

type trace struct {
	c     traceConfig
	scope string
}

// traceLog is the log of hooks run, by the test that runs them.
var traceLog struct {
	sync.Mutex
	lines []string
}

func logf(format string, args ...any) {
	traceLog.Lock()
	traceLog.lines = append(traceLog.lines, fmt.Sprintf(format, args...))
	traceLog.Unlock()
}

func takeLog() []string {
	traceLog.Lock()
	defer traceLog.Unlock()
	l := traceLog.lines
	traceLog.lines = nil
	return l
}

func (f *trace) RequestHeaders(s *Stream) Status {
	logf("req %s", f.c.name)
	s.Request.Headers = append(s.Request.Headers, route.Header{Name: []byte("x-seen"), Value: []byte(f.c.name)})
	if f.c.reply != 0 {
		s.Reply = Reply{Status: f.c.reply, Body: f.c.name, Headers: []route.Header{{Name: []byte("x-by"), Value: []byte(f.c.name)}}}
		return StopReply
	}
	return Continue
}

func (f *trace) ResponseHeaders(s *Stream, r *Response) Status {
	logf("resp %s %d", f.c.name, r.Status)
	r.Headers = append(r.Headers, route.Header{Name: []byte("x-resp"), Value: []byte(f.c.name)})
	if f.c.respReply != 0 {
		s.Reply = Reply{Status: f.c.respReply, Body: "from " + f.c.name}
		return StopReply
	}
	return Continue
}

func traceFilter(name string, reply int) spec.HTTPFilter {
	return spec.HTTPFilter{Name: name, TypeURL: traceType, Config: &traceConfig{name: name, reply: reply}}
}

func headerList(hs []route.Header) string {
	var b []string
	for _, h := range hs {
		b = append(b, string(h.Name)+"="+string(h.Value))
	}
	return strings.Join(b, ",")
}

// TestChainOrderAndLocalReply shows request hooks run in order until one
// replies, and response hooks in reverse, on the upstream response or on
// the local reply of a later filter.
func TestChainOrderAndLocalReply(t *testing.T) {
	tests := []struct {
		name        string
		filters     []spec.HTTPFilter
		wantStatus  Status
		wantLog     []string
		wantReqHdrs string
		wantReply   string // status and headers of the reply or response
	}{{
		name:        "all continue, upstream response",
		filters:     []spec.HTTPFilter{traceFilter("a", 0), traceFilter("b", 0), traceFilter("c", 0)},
		wantLog:     []string{"req a", "req b", "req c", "resp c 200", "resp b 200", "resp a 200"},
		wantReqHdrs: "x-seen=a,x-seen=b,x-seen=c",
		wantReply:   "200 x-resp=c,x-resp=b,x-resp=a",
	}, {
		name:        "middle filter replies",
		filters:     []spec.HTTPFilter{traceFilter("a", 0), traceFilter("b", 429), traceFilter("c", 0)},
		wantStatus:  StopReply,
		wantLog:     []string{"req a", "req b", "resp a 429"},
		wantReqHdrs: "x-seen=a,x-seen=b",
		wantReply:   "429 x-by=b,x-resp=a",
	}, {
		name:        "first filter replies",
		filters:     []spec.HTTPFilter{traceFilter("a", 503), traceFilter("b", 0)},
		wantStatus:  StopReply,
		wantLog:     []string{"req a"},
		wantReqHdrs: "x-seen=a",
		wantReply:   "503 x-by=a",
	}, {
		name:        "disabled filter left out",
		filters:     []spec.HTTPFilter{traceFilter("a", 0), traceFilter("off", 0)},
		wantLog:     []string{"req a", "resp a 200"},
		wantReqHdrs: "x-seen=a",
		wantReply:   "200 x-resp=a",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.filters, nil, Env{Scope: "l"})
			if err != nil {
				t.Fatal(err)
			}
			req := &route.Request{Method: []byte("GET"), Path: []byte("/")}
			var s Stream
			s.Reset(req, nil)
			got := c.RequestHeaders(&s, 0)
			reply := ""
			if got == StopReply {
				reply = fmt.Sprintf("%d %s", s.Reply.Status, headerList(s.Reply.Headers))
			} else {
				r := Response{Status: 200}
				c.ResponseHeaders(&s, &r)
				reply = fmt.Sprintf("%d %s", r.Status, headerList(r.Headers))
			}
			if got != tt.wantStatus {
				t.Errorf("RequestHeaders = %d, want %d", got, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantLog, takeLog()); diff != "" {
				t.Errorf("hooks run (-want +got):\n%s", diff)
			}
			if h := headerList(req.Headers); h != tt.wantReqHdrs {
				t.Errorf("request headers = %q, want %q", h, tt.wantReqHdrs)
			}
			if reply != tt.wantReply {
				t.Errorf("response = %q, want %q", reply, tt.wantReply)
			}
		})
	}
}

// TestResponseHookReplies shows a response hook replacing the upstream
// response, with the earlier filters' hooks run on the replacement.
func TestResponseHookReplies(t *testing.T) {
	b := spec.HTTPFilter{Name: "b", TypeURL: traceType, Config: &traceConfig{name: "b", respReply: 502}}
	c, err := Compile([]spec.HTTPFilter{traceFilter("a", 0), b, traceFilter("c", 0)}, nil, Env{Scope: "l"})
	if err != nil {
		t.Fatal(err)
	}
	var s Stream
	s.Reset(&route.Request{}, nil)
	c.RequestHeaders(&s, 0)
	r := Response{Status: 200}
	if st := c.ResponseHeaders(&s, &r); st != StopReply {
		t.Fatalf("ResponseHeaders = %d, want StopReply", st)
	}
	want := []string{"req a", "req b", "req c", "resp c 200", "resp b 200", "resp a 502"}
	if diff := cmp.Diff(want, takeLog()); diff != "" {
		t.Errorf("hooks run (-want +got):\n%s", diff)
	}
	if got := fmt.Sprintf("%d %s %s", s.Reply.Status, s.Reply.Body, headerList(s.Reply.Headers)); got != "502 from b x-resp=a" {
		t.Errorf("reply = %q", got)
	}
}

// TestPerRouteOverride shows typed_per_filter_config replacing a filter
// for one route, a virtual host's entry shared by its routes, and entries
// naming no filter ignored.
func TestPerRouteOverride(t *testing.T) {
	vhOverride := &spec.HTTPFilter{Name: "a", TypeURL: traceType, Config: &traceConfig{name: "a-vh"}}
	rc := &spec.RouteConfig{Name: "rc", VirtualHosts: []spec.VirtualHost{{
		Name: "vh",
		Routes: []spec.Route{
			{Name: "plain"},
			{Name: "own", PerFilter: map[string]*spec.HTTPFilter{"a": {Name: "a", TypeURL: traceType, Config: &traceConfig{name: "a-route", reply: 418}}}},
			{Name: "vh1", PerFilter: map[string]*spec.HTTPFilter{"a": vhOverride}},
			{Name: "vh2", PerFilter: map[string]*spec.HTTPFilter{"a": vhOverride, "nosuch": vhOverride}},
			{Name: "off", PerFilter: map[string]*spec.HTTPFilter{"a": {Name: "a", TypeURL: traceType, Config: &traceConfig{name: "off"}}}},
		},
	}}}
	c, err := Compile([]spec.HTTPFilter{traceFilter("a", 0), traceFilter("b", 0)}, rc, Env{Scope: "l"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"req a", "req b"}, {"req a-route"}, {"req a-vh", "req b"}, {"req a-vh", "req b"}, {"req b"}} {
		var s Stream
		s.Reset(&route.Request{}, nil)
		c.RequestHeaders(&s, i)
		if diff := cmp.Diff(want, takeLog()); diff != "" {
			t.Errorf("route %d: hooks run (-want +got):\n%s", i, diff)
		}
	}
	if c.routes[2].req[0] != c.routes[3].req[0] {
		t.Errorf("a virtual host's override was built twice")
	}

	rc.VirtualHosts[0].Routes[1].PerFilter["a"].TypeURL = FaultType
	_, err = Compile([]spec.HTTPFilter{traceFilter("a", 0)}, rc, Env{Scope: "l"})
	want := `route config "rc": virtual_hosts[0].routes[1].typed_per_filter_config: "a": type "` + FaultType + `" does not match the filter's "` + traceType + `"`
	if err == nil || err.Error() != want {
		t.Errorf("Compile error = %v, want %s", err, want)
	}
}

func TestCompileUnknownType(t *testing.T) {
	_, err := Compile([]spec.HTTPFilter{{Name: "x", TypeURL: "type.googleapis.com/nope"}}, nil, Env{Scope: "l"})
	want := `http_filters[0] "x": unsupported HTTP filter "type.googleapis.com/nope"`
	if err == nil || err.Error() != want {
		t.Errorf("Compile error = %v, want %s", err, want)
	}
}

func TestFlagString(t *testing.T) {
	for f, want := range map[stream.Flags]string{0: "-", stream.RateLimited: "RL", stream.DelayInjected | stream.FaultInjected: "DI,FI"} {
		if got := f.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", f, got, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	// grpc_stats and grpc_http1_bridge register from their own packages,
	// httpfilter/grpcstats and httpfilter/grpcbridge.
	want := []string{FaultType, spec.HeaderToMetadataType,
		LocalRateLimitType, spec.HTTPRBACType, traceType}
	if diff := cmp.Diff(want, TypeURLs()); diff != "" {
		t.Errorf("TypeURLs (-want +got):\n%s", diff)
	}
	if Get(FaultType) == nil || Get("nope") != nil {
		t.Errorf("Get does not find what is registered")
	}
}

// contFilter continues; it stands for a filter on the hot path.
type contFilter struct{}

func (contFilter) RequestHeaders(*Stream) Status { return Continue }

func BenchmarkChain(b *testing.B) {
	req := &route.Request{Method: []byte("GET"), Path: []byte("/"), Headers: make([]route.Header, 0, 8)}
	run := func(b *testing.B, c *Chain) {
		b.ReportAllocs()
		// A codec keeps both in its per-connection state.
		var s Stream
		var r Response
		for b.Loop() {
			s.Reset(req, nil)
			if c.RequestHeaders(&s, 0) != Continue {
				b.Fatal("stopped")
			}
			r.Status, r.Headers = 200, r.Headers[:0]
			c.ResponseHeaders(&s, &r)
		}
	}
	b.Run("nil", func(b *testing.B) { run(b, nil) })
	b.Run("empty", func(b *testing.B) { run(b, &Chain{base: &list{}}) })
	b.Run("three-continue", func(b *testing.B) {
		c := &Chain{base: &list{}}
		for range 3 {
			c.base.add("cont", contFilter{})
		}
		run(b, c)
	})
	b.Run("ratelimit-and-fault", func(b *testing.B) {
		c, err := Compile([]spec.HTTPFilter{
			{Name: "fault", TypeURL: FaultType, Config: &spec.Fault{Abort: &spec.FaultAbort{Status: 503, Percent: spec.Fraction{Numerator: 0, Denominator: 100}}}},
			{Name: "rl", TypeURL: LocalRateLimitType, Config: &spec.HTTPLocalRateLimit{
				Bucket: &spec.TokenBucket{MaxTokens: 1 << 30, TokensPerFill: 1 << 30, FillInterval: 1e9}, Status: 429,
				Enabled: spec.Fraction{Numerator: 100, Denominator: 100}, Enforced: spec.Fraction{Numerator: 100, Denominator: 100},
			}},
		}, nil, Env{Scope: "l"})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
}
