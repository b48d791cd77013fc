package h2up

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// TestTranslation: HTTP/1.1 requests reach a real h2c server as HTTP/2
// and its answers come back as HTTP/1.1, with bodies both ways, request
// and response trailers, and keep-alive on the client connection.
func TestTranslation(t *testing.T) {
	be := startH2C(t, 0, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/trailers" {
			w.Header().Set("Trailer", "X-Sum")
			w.Write(body)
			w.Header().Set("X-Sum", fmt.Sprint(len(body)))
			return
		}
		fmt.Fprintf(w, "%s %s %s %s host=%s xfp=%s body=%s trailer=%s", r.Proto, r.Method, r.URL.RequestURI(),
			r.Header.Get("X-Test"), r.Host, r.Header.Get("X-Forwarded-Proto"), body, r.Trailer.Get("X-Req"))
	})
	sc := startSidecar(t, prefixRoute(5*time.Second), spec.UpstreamHTTP{}, time.Hour, be.addr())
	c := h1Client()
	defer c.CloseIdleConnections()
	url := "http://" + sc.addr

	tests := []struct {
		name, method, path, body string
		trailer                  http.Header
		want                     string
	}{
		{name: "get", method: "GET", path: "/a?x=1", want: "HTTP/2.0 GET /a?x=1 yes host=svc xfp=http body= trailer="},
		{name: "post", method: "POST", path: "/p", body: "hello", want: "HTTP/2.0 POST /p yes host=svc xfp=http body=hello trailer="},
		{name: "chunked with trailers", method: "POST", path: "/c", body: "chunky", trailer: http.Header{"X-Req": {"r1"}},
			want: "HTTP/2.0 POST /c yes host=svc xfp=http body=chunky trailer=r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
				if tt.trailer != nil {
					body = io.MultiReader(body) // unknown length: chunked
				}
			}
			req, _ := http.NewRequest(tt.method, url+tt.path, body)
			req.Host = "svc"
			req.Header.Set("X-Test", "yes")
			req.Trailer = tt.trailer
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != tt.want {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, got, tt.want)
			}
		})
	}
	t.Run("response trailers", func(t *testing.T) {
		resp, err := c.Post(url+"/trailers", "text/plain", strings.NewReader("12345"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "12345" || resp.Trailer.Get("X-Sum") != "5" {
			t.Errorf("got %q trailer %v, want 12345 and X-Sum: 5", got, resp.Trailer)
		}
	})
	if n := be.conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1", n)
	}
}

// TestFlowControl: 8 MiB each way (beyond HTTP/2's initial 64 KiB
// windows) arrive whole, with a slow reader on the way back.
func TestFlowControl(t *testing.T) {
	const size = 8 << 20
	be := startH2C(t, 0, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
			return
		}
		w.Write(bytes.Repeat([]byte("d"), size))
	})
	sc := startSidecar(t, prefixRoute(30*time.Second), spec.UpstreamHTTP{}, time.Hour, be.addr())
	c := h1Client()
	defer c.CloseIdleConnections()
	up := bytes.Repeat([]byte("u"), size)
	resp, err := c.Post("http://"+sc.addr+"/up", "application/octet-stream", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %x", size, sha256.Sum256(up)); string(got) != want {
		t.Errorf("upload: got %q, want %q", got, want)
	}
	resp, err = c.Get("http://" + sc.addr + "/down")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	buf := make([]byte, 64<<10)
	for i := 0; ; i++ {
		k, err := resp.Body.Read(buf)
		n += k
		if i == 10 {
			time.Sleep(100 * time.Millisecond) // a slow reader: windows close, then reopen
		}
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if n != size {
		t.Errorf("download: got %d bytes, want %d", n, size)
	}
}

// TestStreamLimits: concurrent requests share a connection up to the
// server's SETTINGS_MAX_CONCURRENT_STREAMS or the cluster's
// max_concurrent_streams, whichever is lower, and a connection carries at
// most max_requests_per_connection requests.
func TestStreamLimits(t *testing.T) {
	tests := []struct {
		name          string
		serverStreams int
		hp            spec.UpstreamHTTP
		parallel, seq int
		wantConns     int32
	}{
		{name: "one connection", parallel: 6, wantConns: 1},
		{name: "server allows 2", serverStreams: 2, parallel: 6, wantConns: 3},
		{name: "cluster allows 3", hp: spec.UpstreamHTTP{MaxConcurrentStreams: 3}, parallel: 6, wantConns: 2},
		{name: "cluster allows 1", serverStreams: 2, hp: spec.UpstreamHTTP{MaxConcurrentStreams: 1}, parallel: 4, wantConns: 4},
		{name: "max requests per connection", hp: spec.UpstreamHTTP{MaxRequestsPerConnection: 2}, seq: 5, wantConns: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var inflight sync.WaitGroup
			be := startH2C(t, tt.serverStreams, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					inflight.Done()
					<-release
				}
				io.WriteString(w, "ok")
			})
			sc := startSidecar(t, prefixRoute(5*time.Second), tt.hp, time.Hour, be.addr())
			c := h1Client()
			defer c.CloseIdleConnections()
			var wg sync.WaitGroup
			inflight.Add(tt.parallel)
			for range tt.parallel {
				wg.Go(func() { expectOK(t, c, "http://"+sc.addr+"/hold") })
			}
			inflight.Wait()
			close(release)
			wg.Wait()
			for range tt.seq {
				expectOK(t, c, "http://"+sc.addr+"/")
			}
			if n := be.conns.Load(); n != tt.wantConns {
				t.Errorf("upstream connections = %d, want %d", n, tt.wantConns)
			}
		})
	}
}

func expectOK(t *testing.T, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %d %q", url, resp.StatusCode, body)
	}
}

// TestIdleTimeout: an upstream connection idle for the cluster's
// idle_timeout is closed (upstream_cx_active back to 0).
func TestIdleTimeout(t *testing.T) {
	be := startH2C(t, 0, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	sc := startSidecar(t, prefixRoute(5*time.Second), spec.UpstreamHTTP{}, 200*time.Millisecond, be.addr())
	c := h1Client()
	defer c.CloseIdleConnections()
	expectOK(t, c, "http://"+sc.addr+"/")
	if n := sc.cluster.Stats.CxActive.Load(); n != 1 {
		t.Fatalf("upstream_cx_active = %d after the request, want 1", n)
	}
	start := time.Now()
	waitFor(t, "the idle connection closed", func() bool { return sc.cluster.Stats.CxActive.Load() == 0 })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("closed after %v, want about 200ms", took)
	}
	expectOK(t, c, "http://"+sc.addr+"/") // a new connection
	if n := be.conns.Load(); n != 2 {
		t.Errorf("upstream connections = %d, want 2", n)
	}
}

// TestUpstreamReset: a stream the upstream resets before its head gets
// 503 with response flag UR, as Envoy; a response head that never comes
// gets 504 (UT) at the route timeout.
func TestUpstreamReset(t *testing.T) {
	be := startH2C(t, 0, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/reset":
			panic(http.ErrAbortHandler) // RST_STREAM INTERNAL_ERROR
		case "/slow":
			<-r.Context().Done()
		}
	})
	sc := startSidecar(t, prefixRoute(300*time.Millisecond), spec.UpstreamHTTP{}, time.Hour, be.addr())
	c := h1Client()
	defer c.CloseIdleConnections()
	tests := []struct {
		path  string
		code  int
		flags stream.Flags
	}{
		{"/reset", 503, stream.UpstreamRemoteReset},
		{"/slow", 504, stream.UpstreamRequestTimeout},
		{"/ok", 200, 0},
	}
	for n, tt := range tests {
		resp, err := c.Get("http://" + sc.addr + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := sc.info(t, n+1)
		if diff := cmp.Diff([]any{tt.code, tt.flags.String()}, []any{resp.StatusCode, got.Flags.String()}); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.path, diff)
		}
	}
	if n := be.conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1: a reset stream keeps its connection", n)
	}
}
