package h2up

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
	tlstransport "github.com/meshlb/meshlb/sidecar/transport"
)

// startTLSBackend is a real HTTPS server offering h2 and http/1.1 by
// ALPN, or http/1.1 only; it answers with the request's protocol and
// counts its connections.
func startTLSBackend(t *testing.T, h2 bool, conns *atomic.Int32) string {
	t.Helper()
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, r.Proto)
	}))
	b.EnableHTTP2 = h2
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	b.StartTLS()
	t.Cleanup(b.Close)
	return strings.TrimPrefix(b.URL, "https://")
}

// TestAutoConfig: a cluster with auto_config (spec.UpstreamAuto) over TLS
// speaks HTTP/2 to a backend that negotiates h2 by ALPN and HTTP/1.1 to
// one that offers only http/1.1, and reuses one connection to each for
// sequential requests.
func TestAutoConfig(t *testing.T) {
	tr, err := tlstransport.NewUpstream(&spec.UpstreamTLS{TLSCommon: spec.TLSCommon{ALPN: []string{"h2", "http/1.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h2   bool
		want string
	}{
		{"h2 backend", true, "HTTP/2.0"},
		{"http/1.1 backend", false, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conns atomic.Int32
			addr := startTLSBackend(t, tc.h2, &conns)
			sc := startSidecarTransport(t, prefixRoute(5*time.Second), spec.UpstreamHTTP{Protocol: spec.UpstreamAuto}, time.Hour, tr, addr)
			c := h1Client()
			defer c.CloseIdleConnections()
			for i := range 3 {
				resp, err := c.Post("http://"+sc.addr+"/", "text/plain", strings.NewReader("body"))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(got) != tc.want {
					t.Fatalf("request %d: got %d %q, want 200 %q", i, resp.StatusCode, got, tc.want)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("backend connections: got %d, want 1", n)
			}
		})
	}
}
