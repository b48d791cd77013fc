package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/balancer"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// recordingPolicy is a balancer that picks round robin and records every
// outcome it is told, as an outlier detector or an EWMA balancer would.
const recordingPolicy = "test_recording"

func init() { balancer.Register(recordingBuilder{}) }

type recordingBuilder struct{}

func (recordingBuilder) Name() string { return recordingPolicy }

// Build keeps the outcomes outside the picker, by cluster name (from the
// config it receives), so they outlive snapshots like endpoint state.
func (recordingBuilder) Build(cfg *spec.Cluster, eps []*cluster.Endpoint) cluster.Picker {
	v, _ := recorded.LoadOrStore(cfg.Name, &outcomeLog{})
	return &recording{Picker: balancer.Get(balancer.RoundRobin).Build(cfg, eps), log: v.(*outcomeLog)}
}

// recorded maps a cluster name to its *outcomeLog.
var recorded sync.Map

type outcomeLog struct {
	mu      sync.Mutex
	got     []string
	latency []time.Duration
}

type recording struct {
	cluster.Picker
	log *outcomeLog
}

var _ cluster.Observer = (*recording)(nil)

var failureNames = map[cluster.Failure]string{cluster.ConnectFailure: "connect", cluster.Reset: "reset",
	cluster.Timeout: "timeout", cluster.LocalFailure: "local"}

func (r *recording) Observe(_ *cluster.Endpoint, o cluster.Outcome) {
	s := "ok"
	if o.Status != 0 {
		s = fmt.Sprintf("%dxx", o.Class())
	}
	if f, ok := failureNames[o.Failure]; ok {
		s = f
	}
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	r.log.got = append(r.log.got, s)
	r.log.latency = append(r.log.latency, o.Latency)
}

// outcomes waits until the cluster's balancer has been told n outcomes,
// and returns them.
func outcomes(t *testing.T, name string, n int) ([]string, []time.Duration) {
	t.Helper()
	v, _ := recorded.LoadOrStore(name, &outcomeLog{})
	l := v.(*outcomeLog)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		l.mu.Lock()
		got, lat := append([]string(nil), l.got...), append([]time.Duration(nil), l.latency...)
		l.mu.Unlock()
		if len(got) >= n || ctx.Err() != nil {
			return got, lat
		}
		time.Sleep(time.Millisecond)
	}
}

// feedbackBackend answers /503 with 503, holds /slow until the test ends,
// resets on /reset, and answers the rest with 200.
func feedbackBackend(t *testing.T) string {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/503":
			w.WriteHeader(503)
		case "/slow":
			<-release
		case "/reset":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	}))
	t.Cleanup(func() { close(release); s.Close() })
	return strings.TrimPrefix(s.URL, "http://")
}

func recordingCluster(name string, addrs ...string) config.Cluster {
	c := staticCluster(name, addrs...)
	c.LBPolicy = recordingPolicy
	return c
}

// TestOutcomesReachBalancer sends real requests and connections through
// the sidecar and checks that the cluster's balancer is told the outcome
// of each attempt, once: status class, connect failure, reset, timeout,
// with the latency.
func TestOutcomesReachBalancer(t *testing.T) {
	s := newSidecar(t)
	be, dead := feedbackBackend(t), deadAddr(t)
	web, down, tcp, tcpDown := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	webL := httpListener("web", web, "fb-web")
	action(&webL).Timeout = 200 * time.Millisecond
	set := &config.Set{
		Listeners: []config.Listener{webL, httpListener("down", down, "fb-down"),
			tcpListener("tcp", tcp, "fb-echo"), tcpListener("tcp-down", tcpDown, "fb-tcp-down")},
		Clusters: []config.Cluster{recordingCluster("fb-web", be), recordingCluster("fb-down", dead),
			recordingCluster("fb-echo", echoServer(t, "echo")), recordingCluster("fb-tcp-down", dead)},
	}
	if err := s.Apply(set); err != nil {
		t.Fatal(err)
	}
	c := newClient()
	defer c.CloseIdleConnections()
	var codes []int
	for _, path := range []string{"/200", "/503", "/slow"} {
		code, _, _ := do(t, c, "http://"+web+path)
		codes = append(codes, code)
	}
	// A new connection, so that the reset is not taken for a stale pooled one.
	c.CloseIdleConnections()
	code, _, _ := do(t, newClient(), "http://"+web+"/reset")
	codes = append(codes, code)
	code, _, _ = do(t, c, "http://"+down+"/")
	codes = append(codes, code)
	if diff := cmp.Diff([]int{200, 503, 504, 502, 502}, codes); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if got := greeting(t, "", tcp) + " " + greeting(t, "", tcpDown); got != "echo closed" {
		t.Errorf("TCP greetings = %q, want %q", got, "echo closed")
	}
	want := map[string][]string{
		"fb-web":      {"2xx", "5xx", "timeout", "reset"},
		"fb-down":     {"connect", "connect", "connect"}, // redispatched twice
		"fb-echo":     {"ok"},
		"fb-tcp-down": {"connect", "connect", "connect"},
	}
	for name, w := range want {
		got, lat := outcomes(t, name, len(w))
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s: outcomes (-want +got):\n%s", name, diff)
		}
		if name == "fb-web" && len(lat) > 2 && lat[2] < 200*time.Millisecond {
			t.Errorf("%s: latency of the timed-out attempt = %v, want >= the 200ms route timeout", name, lat[2])
		}
	}
	if n := stats(s, "fb-down").CxConnectFail.Load(); n != 3 {
		t.Errorf("fb-down: upstream_cx_connect_fail = %d, want 3, one per outcome", n)
	}
}
