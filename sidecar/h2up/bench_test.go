package h2up

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// BenchmarkExchange is one HTTP/1.1 request through the sidecar's
// forwarder and this codec to an h2c backend, on loopback. Its
// allocations are the HTTP/2 path's (x/net's request, header maps and
// client stream), beside the client's and the backend's in the same
// process.
func BenchmarkExchange(b *testing.B) {
	be := startH2C(b, 0, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	sc := startSidecar(b, prefixRoute(5*time.Second), spec.UpstreamHTTP{}, time.Hour, be.addr())
	c := h1Client()
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+sc.addr+"/", nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
