package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestH2DrainGoAway: on SIGTERM a real HTTP/2 client (x/net's ClientConn,
// h2c with prior knowledge) connected to the sidecar is sent GOAWAY, so
// it takes no new request on that connection, while its stream in flight
// finishes with the whole response; then the process exits.
func TestH2DrainGoAway(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	be := startSlowBackend(t, 1500*time.Millisecond)
	p, web, _ := shutdownSidecar(t, be, 10, 20)
	nc, err := net.DialTimeout("tcp", web[len("http://"):], waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := (&http2.Transport{AllowHTTP: true}).NewClientConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", web+"/slow", nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- fmt.Sprintf("%d %s %s %v", resp.StatusCode, resp.Proto, b, err)
	}()
	eventually(t, "request at the backend", func() bool { return be.started.Load() == 1 })
	exited := p.exited()
	p.cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, "GOAWAY at the client", func() bool { return !cc.CanTakeNewRequest() })
	select {
	case r := <-got:
		t.Fatalf("the stream ended (%s) before the client saw GOAWAY", r)
	default: // GOAWAY while the stream is still in flight
	}
	if r := <-got; r != "200 HTTP/2.0 done <nil>" {
		t.Errorf("in-flight stream during the drain: %s, want 200 HTTP/2.0 done", r)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10s after the last stream finished")
	}
}
