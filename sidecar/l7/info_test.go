package l7

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// flagCase is one request whose stream info is checked: up returns the
// listener's route config, backends and options.
type flagCase struct {
	name  string
	up    func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config))
	setup func(p *proxy) // after start, before the requests
	reqs  []string       // each on a new connection; the last one's info is checked
	half  bool           // half-close the last connection after its request
	code  int
	flags stream.Flags
}

var hello = []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

const getRoot = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// Each response flag the forwarder produces, through real sockets: the
// stream info handed to the sink says why the request ended as it did.
func TestResponseFlags(t *testing.T) {
	oneTo := func(addr string) func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
		return func(*testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {addr}}, nil
		}
	}
	up := func(resp []byte) func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
		return func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return oneTo(rawUpstream(t, resp))(t)
		}
	}
	tests := []flagCase{
		{name: "none", up: up(hello), reqs: []string{getRoot}, code: 200},
		{name: "NR", up: func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return prefixRoutes(toCluster("/api", "web")), map[string][]string{"web": {rawUpstream(t, hello)}}, nil
		}, reqs: []string{getRoot}, code: 404, flags: stream.NoRouteFound},
		{name: "NC", up: func(*testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return prefixRoutes(toCluster("/", "ghost")), nil, nil
		}, reqs: []string{getRoot}, code: 503, flags: stream.NoClusterFound},
		{name: "UH", up: func(*testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return prefixRoutes(toCluster("/", "web")), map[string][]string{"web": nil}, nil
		}, reqs: []string{getRoot}, code: 503, flags: stream.NoHealthyUpstream},
		{name: "UF", up: func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return oneTo(closedAddr(t))(t)
		}, reqs: []string{getRoot}, code: 502, flags: stream.UpstreamConnectionFailure},
		{name: "UO", up: up(hello), setup: func(p *proxy) {
			cl := p.clusters["web"]
			cl.Limits.MaxRequests = 1
			cl.Stats.RqActive.Add(1) // one request in flight already
		}, reqs: []string{getRoot}, code: 503, flags: stream.UpstreamOverflow},
		{name: "URX", up: func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			r := toCluster("/", "web")
			r.Action.Retry = &spec.RetryPolicy{On: []string{"5xx"}, NumRetries: 1}
			return prefixRoutes(r), map[string][]string{"web": {rawUpstream(t, []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"))}}, nil
		}, reqs: []string{getRoot}, code: 503, flags: stream.UpstreamRetryLimitExceeded},
		{name: "UT", up: func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			r := toCluster("/", "web")
			r.Action.Timeout = 100 * time.Millisecond
			return prefixRoutes(r), map[string][]string{"web": {silentUpstream(t, false)}}, nil
		}, reqs: []string{getRoot}, code: 504, flags: stream.UpstreamRequestTimeout},
		{name: "UC", up: func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return oneTo(silentUpstream(t, true))(t)
		}, reqs: []string{getRoot}, code: 502, flags: stream.UpstreamConnectionTermination},
		{name: "UPE", up: up([]byte("HTTP/1.1 2x0 OK\r\n\r\n")), reqs: []string{getRoot}, code: 502, flags: stream.UpstreamProtocolError},
		{name: "DPE", up: up(hello), reqs: []string{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
			code: 400, flags: stream.DownstreamProtocolError},
		{name: "DC", up: func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
			return oneTo(silentUpstream(t, false))(t)
		}, reqs: []string{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"}, half: true,
			code: 400, flags: stream.DownstreamConnectionTermination},
		{name: "FI", up: withFilter(spec.HTTPFilter{Name: "fault", TypeURL: httpfilter.FaultType, Config: &spec.Fault{
			Abort: &spec.FaultAbort{Status: 503, Percent: spec.Fraction{Numerator: 100, Denominator: 100}}}}, nil),
			reqs: []string{getRoot}, code: 503, flags: stream.FaultInjected},
		{name: "DI", up: withFilter(spec.HTTPFilter{Name: "fault", TypeURL: httpfilter.FaultType, Config: &spec.Fault{
			Delay: &spec.FaultDelay{Fixed: time.Millisecond, Percent: spec.Fraction{Numerator: 100, Denominator: 100}}}}, nil),
			reqs: []string{getRoot}, code: 200, flags: stream.DelayInjected},
		{name: "SI", up: withFilter(spec.HTTPFilter{Name: "fault", TypeURL: httpfilter.FaultType, Config: &spec.Fault{
			Delay: &spec.FaultDelay{Fixed: time.Minute, Percent: spec.Fraction{Numerator: 100, Denominator: 100}}}},
			func(c *Config) { c.StreamIdle = 100 * time.Millisecond }),
			reqs: []string{getRoot}, code: 408, flags: stream.DelayInjected | stream.StreamIdleTimeout},
		{name: "RL", up: withFilter(spec.HTTPFilter{Name: "rl", TypeURL: httpfilter.LocalRateLimitType, Config: &spec.HTTPLocalRateLimit{
			Status: 429, Enabled: spec.Fraction{Numerator: 100, Denominator: 100}, Enforced: spec.Fraction{Numerator: 100, Denominator: 100},
			Bucket: &spec.TokenBucket{MaxTokens: 1, TokensPerFill: 1, FillInterval: time.Hour}}}, nil),
			reqs: []string{getRoot, getRoot}, code: 429, flags: stream.RateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runFlagCase(t, tc)
			if got.Code != tc.code || got.Flags != tc.flags {
				t.Errorf("code %d flags %s, want %d %s", got.Code, got.Flags, tc.code, tc.flags)
			}
		})
	}
}

// withFilter routes / to an upstream that says hello, through one filter.
func withFilter(f spec.HTTPFilter, opt func(*Config)) func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
	return func(t *testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
		rc := prefixRoutes(toCluster("/", "web"))
		chain, err := httpfilter.Compile([]spec.HTTPFilter{f}, rc, httpfilter.Env{Scope: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return rc, map[string][]string{"web": {rawUpstream(t, hello)}}, func(c *Config) {
			c.Filters = chain
			if opt != nil {
				opt(c)
			}
		}
	}
}

// runFlagCase sends tc's requests and returns the last one's stream info.
func runFlagCase(t *testing.T, tc flagCase) stream.Info {
	t.Helper()
	rc, backends, opt := tc.up(t)
	infos := make(chan stream.Info, len(tc.reqs))
	p := startProxy(t, rc, backends, func(c *Config) {
		c.StreamDone = func(i *stream.Info) { infos <- *i }
		if opt != nil {
			opt(c)
		}
	})
	if tc.setup != nil {
		tc.setup(p)
	}
	var got stream.Info
	for i, req := range tc.reqs {
		sendAndRead(t, p.addr, req, tc.half && i == len(tc.reqs)-1)
		select {
		case got = <-infos:
		case <-time.After(5 * time.Second):
			t.Fatalf("no stream info for request %d", i)
		}
	}
	return got
}

// sendAndRead sends req on a new connection, half-closing it if asked,
// and reads the response.
func sendAndRead(t *testing.T, addr, req string, half bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	if half {
		c.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentUpstream accepts connections and never answers; with hangUp it
// closes each once a request head has arrived.
func silentUpstream(t *testing.T, hangUp bool) string {
	t.Helper()
	if !hangUp {
		return loopback.Start(t, loopback.Hold)
	}
	return loopback.Start(t, func(_ context.Context, c net.Conn) {
		rd := bufio.NewReader(c)
		for {
			line, err := rd.ReadString('\n')
			if err != nil || strings.TrimSpace(line) == "" {
				return
			}
		}
	})
}

// The info of an answered request names where it went and counts its
// bytes and times.
func TestStreamInfoFields(t *testing.T) {
	upAddr := rawUpstream(t, hello)
	r := toCluster("/", "web")
	r.Name = "root"
	got := runFlagCase(t, flagCase{up: func(*testing.T) (*spec.RouteConfig, map[string][]string, func(*Config)) {
		return prefixRoutes(r), map[string][]string{"web": {upAddr}}, nil
	}, reqs: []string{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"}})
	if got.Start.IsZero() || got.FirstUpstreamByte <= 0 || got.Total < got.FirstUpstreamByte {
		t.Errorf("times: start %v, first upstream byte %v, total %v", got.Start, got.FirstUpstreamByte, got.Total)
	}
	got.Start, got.FirstUpstreamByte, got.Total = time.Time{}, 0, 0
	want := stream.Info{Listener: "test", Route: "root", Cluster: "web", Endpoint: upAddr, Attempts: 1, Code: 200,
		BytesReceived: int64(len("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")),
		BytesSent:     int64(len(hello))} // relayed as the upstream sent it
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stream info (-want +got):\n%s", diff)
	}
}
