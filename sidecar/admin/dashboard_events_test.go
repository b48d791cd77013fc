package admin

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

// eventStream is one client of /dashboard/events.
type eventStream struct {
	resp *http.Response
	r    *bufio.Reader
}

func openEvents(t *testing.T, url string) *eventStream {
	t.Helper()
	resp, err := http.Get(url + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &eventStream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's name and data.
func (s *eventStream) next(t *testing.T) (event, data string) {
	t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading events: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && event != "":
			return event, data
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

// waitFor polls cond every 10 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestDashboardEvents checks the stream sends frames every dashInterval,
// refuses clients past maxClients, admits one again once a client leaves,
// and says bye when the sidecar drains.
func TestDashboardEvents(t *testing.T) {
	sc, a, h := dashSidecar(t)
	a.dash.maxClients = 2
	srv := httptest.NewServer(h)
	defer srv.Close()

	first := openEvents(t, srv.URL)
	if ct := first.resp.Header.Get("Content-Type"); first.resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %q", first.resp.StatusCode, ct)
	}
	start := time.Now()
	for range 3 {
		if ev, data := first.next(t); ev != "frame" || !strings.Contains(data, `"name":"be"`) {
			t.Fatalf("event %q %s, want a frame with cluster be", ev, data)
		}
	}
	if took := time.Since(start); took < 2*dashInterval-dashReuse || took > 10*dashInterval {
		t.Errorf("3 frames took %v, want about %v", took, 2*dashInterval)
	}

	second := openEvents(t, srv.URL)
	second.next(t)
	resp, err := http.Get(srv.URL + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a third client: %d, want 503", resp.StatusCode)
	}
	second.resp.Body.Close()
	waitFor(t, "the closed stream to end", func() bool { return a.dash.clients.Load() == 1 })
	third := openEvents(t, srv.URL)
	if ev, _ := third.next(t); ev != "frame" {
		t.Errorf("a client after one left: event %q, want frame", ev)
	}

	closed := make(chan struct{})
	go func() { defer close(closed); sc.Close(time.Second) }()
	for _, s := range []*eventStream{first, third} {
		for ev := ""; ev != "bye"; ev, _ = s.next(t) {
		}
		if _, err := s.r.ReadByte(); err != io.EOF {
			t.Errorf("after bye: %v, want EOF", err)
		}
	}
	waitFor(t, "the streams to end", func() bool { return a.dash.clients.Load() == 0 })
	waitFor(t, "the sidecar to close", func() bool {
		select {
		case <-closed:
			return true
		default:
			return false
		}
	})
}

// TestDashboardSlowClient checks that a browser that stops reading is
// dropped once a frame cannot be written within sendTimeout, while
// another client keeps getting frames.
func TestDashboardSlowClient(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(bigSet(dashMaxClusters, dashMaxEndpoints)); err != nil {
		t.Fatal(err)
	}
	a := newAdmin(sc, nil)
	a.dash.sendTimeout = time.Second // the reading client must not miss it on a loaded machine
	mux := http.NewServeMux()
	a.routeDashboard(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	stalled, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "GET /dashboard/events HTTP/1.1\r\nHost: x\r\n\r\n") // and never read

	start := time.Now()
	good := openEvents(t, srv.URL)
	waitFor(t, "both clients", func() bool { return a.dash.clients.Load() == 2 })
	frames := 0
	for a.dash.clients.Load() == 2 {
		if ev, data := good.next(t); ev != "frame" || len(data) < 512<<10 {
			t.Fatalf("event %q of %d bytes, want a frame over 512 KiB", ev, len(data))
		}
		if frames++; frames > 40 {
			t.Fatal("the stalled client was not dropped after 40 frames")
		}
	}
	if ev, _ := good.next(t); ev != "frame" {
		t.Errorf("after the stalled client was dropped: event %q, want frame", ev)
	}
	t.Logf("stalled client dropped after %d frames to the other (%v)", frames, time.Since(start).Round(time.Millisecond))
}

// bigSet has n clusters of m endpoints each (not dialed).
func bigSet(n, m int) *config.Set {
	set := &config.Set{}
	for i := range n {
		name := fmt.Sprintf("service-%03d", i)
		la := &config.LoadAssignment{ClusterName: name}
		for j := range m {
			la.Endpoints = append(la.Endpoints, config.Endpoint{Address: fmt.Sprintf("10.%d.%d.%d:8080", i/250, i%250, j+1), Weight: 1})
		}
		set.Clusters = append(set.Clusters, config.Cluster{Name: name, LBPolicy: "round_robin", ConnectTimeout: time.Second, Static: la})
	}
	return set
}
