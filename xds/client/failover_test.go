package client

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/config"
)

// hungServer accepts TCP connections and never answers, as a stopped
// (SIGSTOP) control server whose kernel still completes handshakes. It
// returns the address.
func hungServer(t *testing.T) string {
	t.Helper()
	return loopback.Start(t, loopback.Hold)
}

func TestResponseTimeoutFailover(t *testing.T) {
	tests := []struct {
		name string
		// first returns the first target, which never responds.
		first func(t *testing.T) string
	}{
		{"TCP accepted, no HTTP/2", hungServer},
		{"xDS server without a snapshot for the node", func(t *testing.T) string { return newXDSServer(t).addr }},
	}
	for _, m := range modes {
		for _, tc := range tests {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				ctx := timeout(t)
				srv := newXDSServer(t)
				srv.set(t, "v1", base("10.0.0.1:80"))
				a := &fakeApplier{}
				start := time.Now()
				c, _ := runClient(t, Options{
					Targets: []string{tc.first(t), srv.addr}, Delta: m.delta,
					ResponseTimeout: 300 * time.Millisecond,
				}, a)
				a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("failover took %v, want about the 300ms response timeout", d)
				}
				waitControlPlane(ctx, t, c, srv.addr, true)
			})
		}
	}
}

// waitControlPlane waits until c reports addr and connected.
func waitControlPlane(ctx context.Context, t *testing.T, c *Client, addr string, connected bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		a, ok := c.ControlPlane()
		if a == addr && ok == connected {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("ControlPlane() = %q, %v; want %q, %v", a, ok, addr, connected)
		}
	}
}

func TestControlPlaneState(t *testing.T) {
	ctx := timeout(t)
	srv := newXDSServer(t)
	srv.set(t, "v1", base("10.0.0.1:80"))
	a := &fakeApplier{}
	c, _ := runClient(t, Options{Targets: []string{srv.addr}}, a)
	a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
	waitControlPlane(ctx, t, c, srv.addr, true)
	srv.shutdown()
	waitControlPlane(ctx, t, c, srv.addr, false)
}

func TestInvalidTarget(t *testing.T) {
	tests := []struct {
		target, err string
	}{
		{"127.0.0.1:18000", ""},
		{"control.mesh:18000", ""},
		{"[::1]:18000", ""},
		{"127.0.0.1:18000,127.0.0.1:18001", `invalid control server address "127.0.0.1:18000,127.0.0.1:18001": address 127.0.0.1:18000,127.0.0.1:18001: too many colons in address`},
		{"127.0.0.1", `invalid control server address "127.0.0.1": address 127.0.0.1: missing port in address`},
		{":18000", `invalid control server address ":18000": missing host`},
		{"host:0", `invalid control server address "host:0": port must be 1-65535`},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			got := ""
			if err := CheckTarget(tc.target); err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("CheckTarget(%q) = %q, want %q", tc.target, got, tc.err)
			}
		})
	}
	// Run fails at once rather than retrying an address it cannot dial.
	c := New(Options{NodeID: testNode, Targets: []string{"127.0.0.1:1,127.0.0.1:2"}}, &fakeApplier{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := c.Run(ctx); err == nil || !strings.Contains(err.Error(), "invalid control server address") {
		t.Errorf("Run with a comma-separated target = %v, want an invalid address error", err)
	}
}

// bigEndpoints returns n distinct endpoint addresses.
func bigEndpoints(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 1000+i%50000)
	}
	return out
}

func TestReceiveLimit(t *testing.T) {
	// 180,000 endpoints make a load assignment of about 4.3 MiB, over gRPC's
	// 4 MiB default.
	addrs := bigEndpoints(180_000)
	if size := proto.Size(loadAssignment("backend", addrs...)); size <= 4<<20 {
		t.Fatalf("the load assignment is %d bytes, not over 4 MiB", size)
	}
	tests := []struct {
		name    string
		limit   int
		applied bool
	}{
		{"default limit", 0, true},
		{"1 MiB limit", 1 << 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Decoding 180,000 endpoints takes seconds on a loaded machine.
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			srv := newXDSServer(t)
			srv.set(t, "v1", base(addrs...))
			logs := &logRecorder{}
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, MaxRecvMsgSize: tc.limit, Logger: slog.New(logs)}, a)
			if tc.applied {
				if _, err := a.sets.wait(ctx, func(s *config.Set) bool {
					return len(s.Endpoints["backend"].Endpoints) == len(addrs)
				}); err != nil {
					t.Fatalf("the large load assignment was not applied: %v", err)
				}
				return
			}
			r, err := logs.recs.wait(ctx, func(r slog.Record) bool { return r.Level == slog.LevelError })
			if err != nil {
				t.Fatalf("no error logged: %v", err)
			}
			got := attrs(r)
			if size, ok := got["size"].(int64); !ok || size <= 4<<20 {
				t.Errorf("logged size = %v, want the response size, over 4 MiB", got["size"])
			}
			want := map[string]any{"limit": int64(1 << 20), "target": srv.addr}
			for k, v := range want {
				if diff := cmp.Diff(v, got[k]); diff != "" {
					t.Errorf("log attribute %s (-want +got):\n%s", k, diff)
				}
			}
			if !strings.Contains(r.Message, "receive limit") {
				t.Errorf("log message %q does not name the receive limit", r.Message)
			}
		})
	}
}

// logRecorder is a slog.Handler that records every record.
type logRecorder struct{ recs events[slog.Record] }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.recs.add(r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// attrs returns r's attributes by key, as plain values.
func attrs(r slog.Record) map[string]any {
	out := map[string]any{}
	r.Attrs(func(a slog.Attr) bool {
		out[a.Key] = a.Value.Any()
		return true
	})
	return out
}

// TestOneTargetWaits checks that with a single control server a stream
// without a response is kept: the server may publish the node's
// configuration later, on the same stream.
func TestOneTargetWaits(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx := timeout(t)
			srv := newXDSServer(t)
			a := &fakeApplier{}
			runClient(t, Options{Targets: []string{srv.addr}, Delta: m.delta, ResponseTimeout: 50 * time.Millisecond}, a)
			if _, err := srv.reqs.wait(ctx, func(r request) bool { return r.node != nil }); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // six response timeouts without a response
			srv.set(t, "v1", base("10.0.0.1:80"))
			a.waitFor(ctx, t, baseSummary("10.0.0.1:80"))
			streams := 0 // each stream's first listener request has no nonce
			for _, r := range srv.reqs.all() {
				if r.typeURL == resourcev3.ListenerType && r.nonce == "" {
					streams++
				}
			}
			if streams != 1 {
				t.Errorf("the client opened %d streams, want 1", streams)
			}
		})
	}
}
