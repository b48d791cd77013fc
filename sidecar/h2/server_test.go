package h2

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// result is what a client saw of one response.
type result struct {
	Proto, Status, Body  string
	ContentType, Trailer string
	GRPCStatus, GRPCMsg  string
}

// HTTP/2 requests reach an HTTP/1 upstream as HTTP/1.1 with their bodies
// and trailers, responses come back with theirs, and local replies are
// text, or trailers-only with grpc-status for gRPC requests.
func TestServe(t *testing.T) {
	be := echoBackend(t)
	p := startProxy(t, routes(toCluster("/api", "be"), toCluster("/down", "none")),
		map[string][]string{"be": {be}, "none": nil})
	c := h2cClient(t)
	url := "http://" + p.addr
	tests := []struct {
		name string
		req  func() *http.Request
		want result
	}{{
		name: "get",
		req:  func() *http.Request { r, _ := http.NewRequest("GET", url+"/api/x?q=1", nil); return r },
		want: result{Proto: "HTTP/2.0", Status: "200 OK", Body: "HTTP/1.1 GET /api/x?q=1 length=0 body= trailer=",
			ContentType: "text/plain; charset=utf-8", Trailer: "done"},
	}, {
		name: "post with length",
		req: func() *http.Request {
			r, _ := http.NewRequest("POST", url+"/api/p", strings.NewReader("hello"))
			return r
		},
		want: result{Proto: "HTTP/2.0", Status: "200 OK", Body: "HTTP/1.1 POST /api/p length=5 body=hello trailer=",
			ContentType: "text/plain; charset=utf-8", Trailer: "done"},
	}, {
		name: "post streamed, with a request trailer",
		req: func() *http.Request {
			r, _ := http.NewRequest("POST", url+"/api/s", io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")))
			r.ContentLength = -1
			r.Trailer = http.Header{"X-Req-Trailer": {"t1"}}
			return r
		},
		want: result{Proto: "HTTP/2.0", Status: "200 OK", Body: "HTTP/1.1 POST /api/s chunked body=abcd trailer=t1",
			ContentType: "text/plain; charset=utf-8", Trailer: "done"},
	}, {
		name: "head",
		req:  func() *http.Request { r, _ := http.NewRequest("HEAD", url+"/api/h", nil); return r },
		want: result{Proto: "HTTP/2.0", Status: "200 OK", ContentType: "text/plain; charset=utf-8"},
	}, {
		name: "no route",
		req:  func() *http.Request { r, _ := http.NewRequest("GET", url+"/nowhere", nil); return r },
		want: result{Proto: "HTTP/2.0", Status: "404 Not Found", Body: "no route matched the request\n", ContentType: "text/plain"},
	}, {
		name: "grpc, no healthy upstream",
		req: func() *http.Request {
			r, _ := http.NewRequest("POST", url+"/down/pkg.Svc/Get", strings.NewReader("\x00\x00\x00\x00\x00"))
			r.Header.Set("Content-Type", "application/grpc")
			r.Header.Set("TE", "trailers")
			return r
		},
		want: result{Proto: "HTTP/2.0", Status: "200 OK", ContentType: "application/grpc", GRPCStatus: "14", GRPCMsg: "no healthy upstream"},
	}, {
		name: "grpc, no route",
		req: func() *http.Request {
			r, _ := http.NewRequest("POST", url+"/pkg.Svc/Get", strings.NewReader("\x00\x00\x00\x00\x00"))
			r.Header.Set("Content-Type", "application/grpc+proto")
			return r
		},
		want: result{Proto: "HTTP/2.0", Status: "200 OK", ContentType: "application/grpc", GRPCStatus: "12", GRPCMsg: "no route matched the request"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			got := result{Proto: resp.Proto, Status: resp.Status, Body: string(b), ContentType: resp.Header.Get("Content-Type"),
				Trailer: resp.Trailer.Get("X-Resp-Trailer"), GRPCStatus: resp.Header.Get("Grpc-Status"), GRPCMsg: resp.Header.Get("Grpc-Message")}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
