package l7

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// fakeStream is a server codec other than HTTP/1, at the [forward.Stream]
// boundary, as a second codec (HTTP/2) would present a request: decoded
// head and body in, decoded response head, body and trailers out.
type fakeStream struct {
	req      route.Request
	fr       forward.Framing
	body     io.Reader
	ss       forward.StreamState
	status   int
	headers  http.Header
	got      bytes.Buffer
	trailers http.Header
	reply    *forward.LocalReply
	flushed  int
}

func (f *fakeStream) Request() *route.Request        { return &f.req }
func (f *fakeStream) Framing() forward.Framing       { return f.fr }
func (f *fakeStream) Peer() []byte                   { return nil }
func (f *fakeStream) State() *forward.StreamState    { return &f.ss }
func (f *fakeStream) Bytes() (int64, int64)          { return 0, int64(f.got.Len()) }
func (f *fakeStream) Wait(time.Duration) bool        { return true }
func (f *fakeStream) CloseAfter()                    {}
func (f *fakeStream) ReadBody(p []byte) (int, error) { return f.body.Read(p) }
func (f *fakeStream) WriteBody(p []byte) error       { f.got.Write(p); return nil }
func (f *fakeStream) Flush() error                   { f.flushed++; return nil }

func (f *fakeStream) Reply(r forward.LocalReply) bool { f.reply = &r; return false }

func (f *fakeStream) Trailers(dst []route.Header) []route.Header {
	return append(dst, route.Header{Name: []byte("x-req-trailer"), Value: []byte("t1")})
}

func (f *fakeStream) WriteHead(status int, _ []byte, headers []route.Header, _ bool) {
	f.status, f.headers = status, http.Header{}
	for _, h := range headers {
		f.headers.Add(string(h.Name), string(h.Value))
	}
}

func (f *fakeStream) WriteTrailers(trailers []route.Header) error {
	f.trailers = http.Header{}
	for _, h := range trailers {
		f.trailers.Add(string(h.Name), string(h.Value))
	}
	return nil
}

// received is what the upstream saw of a request.
type received struct {
	Length   int64
	Chunked  bool
	Body     string
	Trailer  string
	Expected string // X-Forwarded-Proto
}

// TestGenericBodyPath drives requests with bodies from a Stream that is
// not HTTP/1's through forward.Serve to a real HTTP/1 upstream, with
// length-delimited and chunked responses: the HTTP/1 upstream codec
// frames the decoded request body and decodes the response body.
func TestGenericBodyPath(t *testing.T) {
	var mu sync.Mutex
	var seen received
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = received{r.ContentLength, len(r.TransferEncoding) > 0, string(body), r.Trailer.Get("X-Req-Trailer"), r.Header.Get("X-Forwarded-Proto")}
		mu.Unlock()
		resp := "got " + strconv.Itoa(len(body)) + " bytes"
		if r.URL.Path == "/chunked" {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, resp)
			w.(http.Flusher).Flush()
			io.WriteString(w, strings.Repeat("z", 10000))
			w.Header().Set("X-Sum", "42")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
		io.WriteString(w, resp)
	}))
	t.Cleanup(up.Close)
	cfg := genericConfig(t, hostOf(up))
	big := strings.Repeat("abcdefgh", 5000)
	tests := []struct {
		name      string
		path      string
		body      io.Reader
		length    int // -1: unknown, sent chunked
		want      received
		wantBody  string
		wantTrail string
	}{
		{"known length, length response", "/length", strings.NewReader(big), len(big),
			received{Length: int64(len(big)), Body: big, Expected: "http"}, "got 40000 bytes", ""},
		{"unknown length, length response", "/length", iotest.OneByteReader(strings.NewReader("hello body")), -1,
			received{Length: -1, Chunked: true, Body: "hello body", Trailer: "t1", Expected: "http"}, "got 10 bytes", ""},
		{"known length, chunked response", "/chunked", strings.NewReader("hello"), 5,
			received{Length: 5, Body: "hello", Expected: "http"}, "got 5 bytes" + strings.Repeat("z", 10000), "42"},
		{"unknown length, chunked response", "/chunked", strings.NewReader(big), -1,
			received{Length: -1, Chunked: true, Body: big, Trailer: "t1", Expected: "http"}, "got 40000 bytes" + strings.Repeat("z", 10000), "42"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStream{body: tc.body, fr: forward.Framing{HasBody: true},
				req: route.Request{Method: []byte("POST"), Host: []byte("svc"), Path: []byte(tc.path)}}
			if tc.length >= 0 {
				st.req.Headers = []route.Header{{Name: []byte("content-length"), Value: []byte(strconv.Itoa(tc.length))}}
			}
			forward.Serve(cfg, st)
			if st.reply != nil {
				t.Fatalf("local reply %d %q", st.reply.Code, st.reply.Body)
			}
			mu.Lock()
			got := seen
			mu.Unlock()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("upstream received (-want +got):\n%s", diff)
			}
			if st.status != 200 || st.got.String() != tc.wantBody {
				t.Errorf("stream got %d %.40q (%d bytes), want 200 %.40q", st.status, st.got.String(), st.got.Len(), tc.wantBody)
			}
			if te := st.headers.Get("Transfer-Encoding"); te != "" {
				t.Errorf("stream got Transfer-Encoding %q: HTTP/1 framing leaked", te)
			}
			if got := st.trailers.Get("X-Sum"); got != tc.wantTrail {
				t.Errorf("stream trailer X-Sum = %q, want %q", got, tc.wantTrail)
			}
			if st.flushed == 0 {
				t.Error("the response was never flushed")
			}
		})
	}
}

// genericConfig is a forwarder config routing everything to addr through
// the HTTP/1 upstream codec.
func genericConfig(t *testing.T, addr string) *forward.Config {
	t.Helper()
	reg := cluster.NewRegistry()
	t.Cleanup(reg.Close)
	c := &cluster.Cluster{Name: "web", ConnectTimeout: time.Second, Stats: &cluster.Stats{}}
	c.Endpoints = []*cluster.Endpoint{{State: reg.Get(addr, nil), Weight: 1}}
	c.Picker = balancer.Build(&spec.Cluster{}, c.Endpoints)
	table, err := route.Compile(prefixRoutes(toCluster("/", "web")), func(string) *cluster.Cluster { return c })
	if err != nil {
		t.Fatal(err)
	}
	return &forward.Config{Listener: "test", Routes: table, StreamIdle: 5 * time.Second, Stats: &forward.Stats{}, Upstream: newExchange}
}
