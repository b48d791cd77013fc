package admin

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
)

// TestShutdownDrains: when the sidecar starts to shut down with a request
// in flight on a keep-alive connection, /ready turns 503 at once, the
// request finishes with 200 and Connection: close, and the connection is
// then closed.
func TestShutdownDrains(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, "done")
	}))
	defer be.Close()
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	if err := sc.Apply(statsSet(be.Listener.Addr().String())); err != nil {
		t.Fatal(err)
	}
	h := Handler(sc)
	c, err := net.DialTimeout("tcp", sc.Addresses()["web"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.Close {
		t.Fatalf("first response: %v, or it closes", err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request did not reach the backend")
	}
	closed := make(chan struct{})
	go func() { defer close(closed); sc.Close(5 * time.Second) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if code, body := get(t, h, "/ready"); code == 503 && strings.Contains(body, "DRAINING") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/ready did not turn 503 DRAINING")
		}
	}
	// The listener stops accepting as it drains; then let the request end.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		probe, err := net.DialTimeout("tcp", c.RemoteAddr().String(), time.Second)
		if err != nil {
			break
		}
		probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts while draining")
		}
	}
	close(release)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "done" || !resp.Close {
		t.Errorf("in-flight request = %d %q, Connection: close %v; want 200 done, close", resp.StatusCode, body, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the response: %v, want EOF", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("Close did not return after the in-flight request finished")
	}
}
