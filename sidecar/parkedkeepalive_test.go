package sidecar

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// TestParkedKeepAliveStaysOpen: a keep-alive connection idle past the
// parker's delay is parked, not closed: its serving goroutine has ended,
// and nothing it leaves behind (the listener's per-connection state) may
// end the connection. The client's next request on it is served. (A
// per-connection context released when the goroutine ended once closed
// every idle keep-alive connection about 2 s after its last request.)
func TestParkedKeepAliveStaysOpen(t *testing.T) {
	s := newSidecar(t)
	if s.parker == nil {
		t.Skip("no parker on this platform")
	}
	s.parker.After = 20 * time.Millisecond
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(be.Close)
	addr := freeAddr(t)
	set := &config.Set{Clusters: []config.Cluster{staticCluster("be", be.Listener.Addr().String())},
		Listeners: []config.Listener{httpListener("in", addr, "be")}}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func(n int) {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %d on the kept connection: %v", n, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %d = %d", n, resp.StatusCode)
		}
	}
	get(1)
	// Idle for many times the park delay: the connection must stay open
	// (a read times out rather than seeing EOF).
	c.SetReadDeadline(time.Now().Add(25 * s.parker.After))
	if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the idle keep-alive connection: read = %v, want a timeout (it was closed)", err)
	}
	get(2)
}
