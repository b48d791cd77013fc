package h2up

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestSpentConnectionDrains: a connection that has started
// max_requests_per_connection streams is drained, as Envoy drains one at
// its stream limit: it takes no new stream (the next request opens a new
// connection while its streams still run) and it is closed as soon as its
// last stream ends, not after the cluster's idle timeout (1h here).
func TestSpentConnectionDrains(t *testing.T) {
	hold := make(chan struct{})
	var held sync.WaitGroup
	be := startH2C(t, 100, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			held.Done()
			<-hold
		}
		w.Write([]byte("ok"))
	})
	sc := startSidecar(t, prefixRoute(5*time.Second), spec.UpstreamHTTP{MaxRequestsPerConnection: 2}, time.Hour, be.addr())
	c := h1Client()
	defer c.CloseIdleConnections()

	// Two streams in flight spend the first connection.
	var wg sync.WaitGroup
	held.Add(2)
	for range 2 {
		wg.Go(func() { expectOK(t, c, "http://"+sc.addr+"/hold") })
	}
	held.Wait()
	expectOK(t, c, "http://"+sc.addr+"/") // while they run: a new connection
	if o, cl := be.conns.Load(), be.closed.Load(); o != 2 || cl != 0 {
		t.Fatalf("with the first connection's 2 streams running: %d opened, %d closed; want 2, 0", o, cl)
	}
	close(hold)
	wg.Wait()
	waitFor(t, "the spent connection to close once its streams ended", func() bool { return be.closed.Load() == 1 })

	// The second connection carried one stream: one more spends it, and
	// it closes when that stream ends; a third request opens a third.
	expectOK(t, c, "http://"+sc.addr+"/")
	waitFor(t, "the second connection to close after its second stream", func() bool { return be.closed.Load() == 2 })
	expectOK(t, c, "http://"+sc.addr+"/")
	if o := be.conns.Load(); o != 3 {
		t.Errorf("connections opened = %d, want 3", o)
	}
	if n := sc.cluster.Stats.CxActive.Load(); n != 1 {
		t.Errorf("upstream_cx_active = %d, want 1 (the third connection)", n)
	}
}

// goAwayBackend is a raw HTTP/2 server (x/net's Framer) that answers
// every request 200 "ok" and, before answering the first stream of each
// connection, sends GOAWAY naming that stream as the last it processes;
// it never closes a connection itself. It counts connections opened and
// those the client closed.
func goAwayBackend(t *testing.T) (addr string, opened, closedByClient *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opened, closedByClient = new(atomic.Int32), new(atomic.Int32)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			opened.Add(1)
			wg.Go(func() {
				defer nc.Close()
				serveGoAway(nc)
				closedByClient.Add(1)
			})
		}
	})
	return ln.Addr().String(), opened, closedByClient
}

// serveGoAway serves one connection until the client closes it (or any
// error).
func serveGoAway(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(nc, preface); err != nil {
		return
	}
	fr := http2.NewFramer(nc, nc)
	fr.WriteSettings()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	goneAway := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.HeadersFrame:
			if !goneAway {
				fr.WriteGoAway(f.StreamID, http2.ErrCodeNo, nil)
				goneAway = true
			}
			hbuf.Reset()
			enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: hbuf.Bytes(), EndHeaders: true})
			fr.WriteData(f.StreamID, true, []byte("ok"))
		}
	}
}

// TestGoAwayConnectionDrains: a connection the server sent GOAWAY on
// takes no new stream (the next request opens another connection), and
// the sidecar closes it once its stream has ended, though the server
// keeps it open.
func TestGoAwayConnectionDrains(t *testing.T) {
	addr, opened, closedByClient := goAwayBackend(t)
	sc := startSidecar(t, prefixRoute(5*time.Second), spec.UpstreamHTTP{}, time.Hour, addr)
	c := h1Client()
	defer c.CloseIdleConnections()
	for i := range 3 {
		expectOK(t, c, "http://"+sc.addr+"/")
		waitFor(t, "the sidecar to close the connection told GOAWAY", func() bool { return closedByClient.Load() == int32(i+1) })
	}
	if n := opened.Load(); n != 3 {
		t.Errorf("connections opened = %d, want 3 (one per request, each told GOAWAY)", n)
	}
}
