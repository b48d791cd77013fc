package admin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// holdBackend answers at once, except /hold, which it answers once
// release is closed; held receives each /hold request as it arrives.
func holdBackend(t *testing.T) (addr string, held <-chan struct{}, release chan struct{}) {
	h, r := make(chan struct{}, 4), make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/hold" {
			h <- struct{}{}
			<-r
		}
	}))
	t.Cleanup(func() {
		select {
		case <-r:
		default:
			close(r)
		}
		be.Close()
	})
	return be.Listener.Addr().String(), h, r
}

// inOutSet has an INBOUND listener "in" and an outbound one "out", both
// routing to cluster be at backend.
func inOutSet(backend string) *config.Set {
	set := statsSet(backend)
	in := set.Listeners[0]
	in.Name, in.Inbound = "in", true
	out := set.Listeners[0]
	out.Name, out.Address = "out", "127.0.0.2:0"
	set.Listeners = []config.Listener{in, out}
	return set
}

// rawConn is a keep-alive HTTP/1.1 client connection.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c, bufio.NewReader(c)}
}

// get sends GET path and reads the answer.
func (r *rawConn) get(path string) (*http.Response, error) {
	r.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(r.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// closedBy reports whether the server closes the connection within 2 s.
func (r *rawConn) closedBy(t *testing.T) bool {
	t.Helper()
	r.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := r.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// refused reports whether a connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TestDrainListenersInboundOnly: POST /drain_listeners?inboundonly stops
// the INBOUND listener at once: its request in flight completes with
// Connection: close, its idle keep-alive connection is closed, new
// connections are refused, and a configuration update does not start it
// again; the outbound listener serves on.
func TestDrainListenersInboundOnly(t *testing.T) {
	backend, held, release := holdBackend(t)
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	set := inOutSet(backend)
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	h := Handler(sc)
	in, out := sc.Addresses()["in"], sc.Addresses()["out"]
	idle := dialRaw(t, in)
	if resp, err := idle.get("/ok"); err != nil || resp.Close {
		t.Fatalf("before the drain: %v, close %v", err, resp != nil && resp.Close)
	}
	busy := dialRaw(t, in)
	done := make(chan error, 1)
	go func() {
		resp, err := busy.get("/hold")
		if err == nil && (resp.StatusCode != 200 || !resp.Close) {
			err = errors.New("the request in flight got " + resp.Status + " without Connection: close")
		}
		done <- err
	}()
	<-held
	if code, body := post(t, h, "/drain_listeners?inboundonly"); code != 200 || body != "OK\n" {
		t.Fatalf("POST /drain_listeners?inboundonly = %d %q", code, body)
	}
	if !refused(in) {
		t.Error("the inbound listener still accepts after /drain_listeners?inboundonly")
	}
	if !idle.closedBy(t) {
		t.Error("the idle keep-alive connection of the inbound listener was not closed")
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("request in flight: %v", err)
	}
	if resp, err := dialRaw(t, out).get("/ok"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the outbound listener after an inbound-only drain: %v", err)
	}
	if err := sc.Apply(inOutSet(backend)); err != nil {
		t.Fatal(err)
	}
	if !refused(in) {
		t.Error("a configuration update started the drained inbound listener again")
	}
	if code, _ := get(t, h, "/drain_listeners"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /drain_listeners = %d, want 405", code)
	}
}

// TestDrainListenersGraceful: POST /drain_listeners?graceful drains the
// connections of every listener at once but keeps accepting, and serving,
// new ones for the drain time; then the listeners stop.
func TestDrainListenersGraceful(t *testing.T) {
	backend, _, _ := holdBackend(t)
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(inOutSet(backend)); err != nil {
		t.Fatal(err)
	}
	const drainTime = 1500 * time.Millisecond
	h := Handler(sc, WithDrainTime(drainTime))
	in, out := sc.Addresses()["in"], sc.Addresses()["out"]
	idle := dialRaw(t, out)
	if _, err := idle.get("/ok"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code, _ := post(t, h, "/drain_listeners?graceful"); code != 200 {
		t.Fatalf("POST /drain_listeners?graceful = %d", code)
	}
	if !idle.closedBy(t) {
		t.Error("an idle keep-alive connection was not closed when the graceful drain began")
	}
	for _, addr := range []string{in, out} {
		resp, err := dialRaw(t, addr).get("/ok")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s %v into the drain time: %v; want it served", addr, time.Since(start), err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !refused(in) || !refused(out) {
		select {
		case <-ctx.Done():
			t.Fatal("the listeners still accept 5 s after a graceful drain of 1.5 s began")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if took := time.Since(start); took < drainTime {
		t.Errorf("listeners stopped after %v, before the drain time %v", took, drainTime)
	}
}
