package l7

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// stampType is a test-only filter with a response hook that adds a header.
const stampType = "type.googleapis.com/meshlb.test.Stamp"

type stampBuilder struct{}

func (stampBuilder) TypeURL() string { return stampType }
func (stampBuilder) Build(any, httpfilter.Env) (httpfilter.Filter, error) {
	return stamp{}, nil
}

func init() { httpfilter.Register(stampBuilder{}) }

type stamp struct{}

var stampHeader = route.Header{Name: []byte("x-stamp"), Value: []byte("1")}

func (stamp) RequestHeaders(*httpfilter.Stream) httpfilter.Status { return httpfilter.Continue }

func (stamp) ResponseHeaders(_ *httpfilter.Stream, r *httpfilter.Response) httpfilter.Status {
	r.Headers = append(r.Headers, stampHeader)
	return httpfilter.Continue
}

// BenchmarkRequestFilters is BenchmarkRequest with a fault filter (0%), a
// local rate limit that never runs out and a response-head hook: the
// continue path of a chain through real sockets.
func BenchmarkRequestFilters(b *testing.B) {
	all := spec.Fraction{Numerator: 100, Denominator: 100}
	rc := prefixRoutes(toCluster("/", "web"))
	chain, err := httpfilter.Compile([]spec.HTTPFilter{
		{Name: "fault", TypeURL: httpfilter.FaultType, Config: &spec.Fault{Abort: &spec.FaultAbort{Status: 503, Percent: spec.Fraction{Denominator: 100}}}},
		{Name: "rl", TypeURL: httpfilter.LocalRateLimitType, Config: &spec.HTTPLocalRateLimit{Status: 429, Enabled: all, Enforced: all,
			Bucket: &spec.TokenBucket{MaxTokens: 1 << 31, TokensPerFill: 1 << 31, FillInterval: time.Second}}},
		{Name: "stamp", TypeURL: stampType},
	}, rc, httpfilter.Env{Scope: "test"})
	if err != nil {
		b.Fatal(err)
	}
	up := rawUpstream(b, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"))
	p := startProxy(b, rc, map[string][]string{"web": {up}}, func(c *Config) { c.Filters = chain })
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /api/v1/items?id=42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: wrk/4.2\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	n := firstResponse(b, c, req, buf)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
}
