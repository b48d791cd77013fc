package filterchain

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// serve accepts on a loopback listener and hands connections to h until
// the test ends; it returns the listener's address.
func serve(t *testing.T, h Terminal) string {
	t.Helper()
	return serveOn(t, listen(t), h)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveOn is serve on a listener of the caller's.
func serveOn(t *testing.T, ln net.Listener, h Terminal) string {
	t.Helper()
	return loopback.Serve(t, ln, h.ServeConn)
}

// exchange dials addr, sends msg, half-closes and returns all it reads
// (bounded by a deadline).
func exchange(t *testing.T, addr, msg string) string {
	t.Helper()
	return exchangeFrom(t, 0, addr, msg)
}

// exchangeFrom is exchange from local port from (0: any).
func exchangeFrom(t *testing.T, from int, addr, msg string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: from}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}

// echo is a terminal filter that writes its name and then echoes.
type echo struct{ name string }

func (e echo) ServeConn(_ context.Context, c net.Conn) {
	defer c.Close()
	io.WriteString(c, e.name+":")
	io.Copy(c, c)
}

// recorder is a filter that appends its name to a shared log and returns
// a fixed status.
type recorder struct {
	name   string
	status Status
	log    *[]string
	mu     *sync.Mutex
}

func (r recorder) OnNewConnection(net.Conn) Status {
	r.mu.Lock()
	*r.log = append(*r.log, r.name)
	r.mu.Unlock()
	return r.status
}

// censor is a data filter that closes the connection on "bad".
type censor struct{}

func (censor) OnNewConnection(net.Conn) Status { return Continue }
func (censor) OnData(_ net.Conn, p []byte) Status {
	if strings.Contains(string(p), "bad") {
		return Close
	}
	return Continue
}

func TestChainRunsFiltersInOrder(t *testing.T) {
	var (
		mu  sync.Mutex
		log []string
	)
	rec := func(name string, s Status) Filter { return recorder{name: name, status: s, log: &log, mu: &mu} }
	tests := []struct {
		name    string
		filters []Filter
		msg     string
		want    string
		wantLog []string
	}{{
		name:    "all continue",
		filters: []Filter{rec("a", Continue), rec("b", Continue)},
		msg:     "hi", want: "t:hi", wantLog: []string{"a", "b"},
	}, {
		name:    "a filter closes: later filters and the terminal never run",
		filters: []Filter{rec("a", Continue), rec("b", Close), rec("c", Continue)},
		msg:     "hi", want: "", wantLog: []string{"a", "b"},
	}, {
		name:    "a data filter closes on what it reads",
		filters: []Filter{rec("a", Continue), censor{}},
		msg:     "bad", want: "t:", wantLog: []string{"a"},
	}, {
		name:    "a data filter lets good bytes through",
		filters: []Filter{censor{}},
		msg:     "good", want: "t:good",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			log = nil
			mu.Unlock()
			h, err := NewHandler([]spec.FilterChainMatch{{}}, []*Chain{{Filters: tt.filters, Terminal: echo{"t"}}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := exchange(t, serve(t, h), tt.msg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tt.wantLog, log); diff != "" {
				t.Errorf("filters run (-want +got):\n%s", diff)
			}
		})
	}
}

// upperConn is a transport that upper-cases what the terminal writes.
type upperConn struct{ net.Conn }

func (u upperConn) Write(p []byte) (int, error) {
	return u.Conn.Write([]byte(strings.ToUpper(string(p))))
}

func TestChainTransport(t *testing.T) {
	tests := []struct {
		name      string
		transport Transport
		want      string
	}{
		{"nil is plaintext", nil, "t:x"},
		{"wraps the connection", func(_ context.Context, c net.Conn) (net.Conn, error) { return upperConn{c}, nil }, "T:X"},
		{"an error closes it", func(context.Context, net.Conn) (net.Conn, error) { return nil, errors.New("handshake") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHandler([]spec.FilterChainMatch{{}}, []*Chain{{Transport: tt.transport, Terminal: echo{"t"}}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := exchange(t, serve(t, h), "x"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHandlerSelectsBySocket matches on the real addresses of loopback
// connections.
func TestHandlerSelectsBySocket(t *testing.T) {
	probe := listen(t)
	freePort := uint16(probe.Addr().(*net.TCPAddr).Port)
	probe.Close()
	tests := []struct {
		name   string
		chains []spec.FilterChainMatch
		def    bool
		from   int // local port to dial from
		want   string
		noMtch uint64
	}{
		{name: "source prefix", chains: []spec.FilterChainMatch{{SourcePrefixRanges: prefixes("10.0.0.0/8")}, {SourcePrefixRanges: prefixes("127.0.0.1/32")}}, want: "c1:x"},
		{name: "source type local", chains: []spec.FilterChainMatch{{SourceType: spec.SourceExternal}, {SourceType: spec.SourceLocal}}, want: "c1:x"},
		{name: "destination prefix", chains: []spec.FilterChainMatch{{PrefixRanges: prefixes("127.0.0.0/8")}, {PrefixRanges: prefixes("10.0.0.0/8")}}, want: "c0:x"},
		{name: "direct source prefix", chains: []spec.FilterChainMatch{{DirectSourcePrefixes: prefixes("10.0.0.0/8")}, {DirectSourcePrefixes: prefixes("127.0.0.1/32")}}, want: "c1:x"},
		{name: "transport protocol raw_buffer", chains: []spec.FilterChainMatch{{}, {TransportProtocol: RawBuffer}}, want: "c1:x"},
		{name: "source port", chains: []spec.FilterChainMatch{{}, {SourcePorts: []uint16{1, freePort}}}, from: int(freePort), want: "c1:x"},
		{name: "no match is closed and counted", chains: []spec.FilterChainMatch{{SourcePorts: []uint16{1}}, {DestinationPort: 1}}, want: "", noMtch: 1},
		{name: "no match takes the default chain", chains: []spec.FilterChainMatch{{SourcePorts: []uint16{1}}}, def: true, want: "default:x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var chains []*Chain
			for i := range tt.chains {
				chains = append(chains, &Chain{Terminal: echo{"c" + string(rune('0'+i))}})
			}
			var def *Chain
			if tt.def {
				def = &Chain{Terminal: echo{"default"}}
			}
			var noMatch atomic.Uint64
			h, err := NewHandler(tt.chains, chains, def, &noMatch)
			if err != nil {
				t.Fatal(err)
			}
			if got := exchangeFrom(t, tt.from, serve(t, h), "x"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got := noMatch.Load(); got != tt.noMtch {
				t.Errorf("no_filter_chain_match = %d, want %d", got, tt.noMtch)
			}
		})
	}
}

// TestHandlerDestinationPort serves two ports with one handler, as a
// listener with an original-destination redirect would see them.
func TestHandlerDestinationPort(t *testing.T) {
	a, b := listen(t), listen(t)
	port := uint16(a.Addr().(*net.TCPAddr).Port)
	h, err := NewHandler([]spec.FilterChainMatch{{DestinationPort: port}, {}},
		[]*Chain{{Terminal: echo{"a"}}, {Terminal: echo{"other"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := exchange(t, serveOn(t, a, h), "x"); got != "a:x" {
		t.Errorf("port %d: got %q", port, got)
	}
	if got := exchange(t, serveOn(t, b, h), "x"); got != "other:x" {
		t.Errorf("other port: got %q", got)
	}
}

// BenchmarkSelect measures choosing the chain of a real connection, as
// ServeConn does: reading its addresses and matching them.
func BenchmarkSelect(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	h, err := NewHandler([]spec.FilterChainMatch{
		{SourcePrefixRanges: prefixes("10.0.0.0/8")}, {SourceType: spec.SourceLocal, SourcePorts: []uint16{1, 2}}, {SourceType: spec.SourceLocal},
	}, []*Chain{{}, {}, {Name: "want"}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ci := ConnInfo{TransportProtocol: RawBuffer, Local: addrPort(c.LocalAddr()), Remote: addrPort(c.RemoteAddr())}
		ci.DirectRemote = ci.Remote
		if h.Select(&ci).Name != "want" {
			b.Fatal("wrong chain")
		}
	}
}

// nop is a terminal that leaves the connection open, so a benchmark can
// serve one connection many times.
type nop struct{}

func (nop) ServeConn(context.Context, net.Conn) {}

// BenchmarkServeConn measures what a listener adds to each accepted
// connection before its terminal filter: reading the addresses, matching
// a chain and running a local rate limit filter.
func BenchmarkServeConn(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	counter, _ := counters()
	rl, err := Get(spec.LocalRateLimitType).Build(&spec.LocalRateLimit{StatPrefix: "rl",
		Bucket: spec.TokenBucket{MaxTokens: 1 << 31, TokensPerFill: 1 << 31, FillInterval: time.Second}}, Env{Counter: counter})
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler([]spec.FilterChainMatch{
		{SourcePrefixRanges: prefixes("10.0.0.0/8")}, {SourceType: spec.SourceLocal},
	}, []*Chain{{Terminal: nop{}}, {Filters: []Filter{rl}, Terminal: nop{}}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeConn(ctx, c)
	}
}
