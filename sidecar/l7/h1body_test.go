package l7

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/forward"
	"github.com/meshlb/meshlb/sidecar/route"
)

// echoExchange is an upstream codec other than HTTP/1's, at the
// [forward.Exchange] boundary: it takes the request body through the
// stream's generic path and answers with it through the same path,
// chunked with a trailer or with a Content-Length.
type echoExchange struct {
	conn    net.Conn
	body    []byte
	trailer string
	chunked bool
	done    chan<- *echoExchange // receives e once the exchange ends
}

func (e *echoExchange) Send(st forward.Stream, _ *route.Route, _ bool, _ time.Duration) error {
	e.chunked = string(st.Request().Path) == "/chunked" // the head is valid until the body is read
	b, err := io.ReadAll(readerFunc(st.ReadBody))
	e.body = b
	for _, h := range st.Trailers(nil) {
		e.trailer += string(h.Name) + "=" + string(h.Value)
	}
	return err
}

func (e *echoExchange) ReadHead(forward.Stream, time.Duration, time.Time) (forward.ResponseHead, bool, error) {
	return forward.ResponseHead{Status: 200, Reason: []byte("OK")}, false, nil
}

func (e *echoExchange) Headers(dst []route.Header) []route.Header {
	if e.chunked {
		return append(dst, route.Header{Name: []byte("Transfer-Encoding"), Value: []byte("chunked")},
			route.Header{Name: []byte("Trailer"), Value: []byte("X-Sum")})
	}
	return append(dst, route.Header{Name: []byte("Content-Length"), Value: []byte(strconv.Itoa(len("echo:") + len(e.body)))})
}

func (e *echoExchange) WriteHead(st forward.Stream, closing bool) {
	st.WriteHead(200, []byte("OK"), e.Headers(nil), closing)
}

func (e *echoExchange) CopyBody(st forward.Stream, _ bool) error {
	if err := st.WriteBody([]byte("echo:")); err != nil {
		return err
	}
	if err := st.WriteBody(e.body); err != nil {
		return err
	}
	sum := route.Header{Name: []byte("X-Sum"), Value: []byte(strconv.Itoa(len(e.body)))}
	if err := st.WriteTrailers([]route.Header{sum}); err != nil {
		return err
	}
	return st.Flush()
}

func (e *echoExchange) Tunnel(forward.Stream) error      { return errors.New("no tunnel") }
func (e *echoExchange) Stale() bool                      { return false }
func (e *echoExchange) Reusable() bool                   { return false }
func (e *echoExchange) Done(_ *cluster.Endpoint, _ bool) { e.conn.Close(); e.done <- e }
func (e *echoExchange) String() string                   { return "echo" }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestSessionGenericBody drives a real HTTP/1 client through the HTTP/1
// server codec to an upstream codec that uses only the generic body
// path: the session decodes the request body (chunked with a trailer, or
// by length) for it, and frames the response body it writes.
func TestSessionGenericBody(t *testing.T) {
	up := backend(t, "b") // only dialed: the exchange never writes to it
	done := make(chan *echoExchange, 1)
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(up)}},
		func(c *Config) {
			c.Upstream = func(c net.Conn) forward.Exchange { return &echoExchange{conn: c, done: done} }
		})
	big := strings.Repeat("0123456789", 3000)
	tests := []struct {
		name     string
		path     string
		length   int64  // -1: chunked
		reqTrail string // the request trailers the exchange saw
	}{
		{"chunked request, chunked response", "/chunked", -1, "X-Req=t1"},
		{"length request, length response", "/length", int64(len(big)), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", "http://"+p.addr+tc.path, io.NopCloser(strings.NewReader(big)))
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tc.length
			if tc.length < 0 {
				req.Trailer = http.Header{"X-Req": {"t1"}}
			}
			resp, err := newClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || string(body) != "echo:"+big {
				t.Errorf("got %d %.40q (%d bytes), want 200 echo:<%d bytes>", resp.StatusCode, body, len(body), len(big))
			}
			select {
			case e := <-done:
				if string(e.body) != big || e.trailer != tc.reqTrail {
					t.Errorf("exchange read %d bytes, trailers %q; want %d, %q", len(e.body), e.trailer, len(big), tc.reqTrail)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the exchange never ended")
			}
			if tc.length < 0 && resp.Trailer.Get("X-Sum") != strconv.Itoa(len(big)) {
				t.Errorf("trailer X-Sum = %q, want %d", resp.Trailer.Get("X-Sum"), len(big))
			}
			if tc.length >= 0 && resp.ContentLength != int64(len("echo:")+len(big)) {
				t.Errorf("Content-Length = %d", resp.ContentLength)
			}
		})
	}
}
