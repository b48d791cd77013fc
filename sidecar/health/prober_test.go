package health

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testChecker(cfg *spec.HealthCheck) *Checker {
	return New("be", cfg, &cluster.Runtime{}, &cluster.Stats{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name       string
		results    []result
		wantFailed []bool // the verdict after each result
	}{
		{"new endpoint healthy on one success", []result{pass}, []bool{false}},
		{"new endpoint stays failing", []result{network, fail, pass}, []bool{true, true, true}},
		{"failing endpoint needs healthy_threshold", []result{network, pass, pass, pass}, []bool{true, true, true, false}},
		{"network failures need unhealthy_threshold", []result{pass, network, network}, []bool{false, false, true}},
		{"retriable statuses need unhealthy_threshold", []result{pass, retriable, retriable}, []bool{false, false, true}},
		{"a success resets the failures", []result{pass, network, pass, network}, []bool{false, false, false, false}},
		{"an unexpected status fails at once", []result{pass, fail}, []bool{false, true}},
		{"a failure resets the successes", []result{pass, fail, pass, pass, network, pass, pass, pass}, []bool{false, true, true, true, true, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testChecker(&spec.HealthCheck{HealthyThreshold: 3, UnhealthyThreshold: 2})
			h := c.rt.ActiveHealth(&cluster.State{})
			var s streak
			for i, r := range tt.results {
				c.record(&s, h, r, "a")
				if got := h.Failed(); got != tt.wantFailed[i] {
					t.Fatalf("after result %d (%v): failed = %v, want %v", i, r, got, tt.wantFailed[i])
				}
			}
		})
	}
}

func TestRecordCounts(t *testing.T) {
	c := testChecker(&spec.HealthCheck{HealthyThreshold: 1, UnhealthyThreshold: 1})
	h := c.rt.ActiveHealth(&cluster.State{})
	var s streak
	for _, r := range []result{pass, network, fail, retriable, pass} {
		c.record(&s, h, r, "a")
	}
	hc := &c.stats.HealthCheck
	if got := [3]uint64{hc.Success.Load(), hc.Failure.Load(), hc.NetworkFailure.Load()}; got != [3]uint64{2, 3, 1} {
		t.Errorf("success, failure, network_failure = %v, want [2 3 1]", got)
	}
}

func TestInterval(t *testing.T) {
	cfg := &spec.HealthCheck{Interval: 1 * time.Second, NoTrafficInterval: 60 * time.Second, UnhealthyInterval: 2 * time.Second,
		UnhealthyEdgeInterval: 3 * time.Second, HealthyEdgeInterval: 4 * time.Second}
	tests := []struct {
		name            string
		traffic         bool
		failed, changed bool
		want            time.Duration
	}{
		{"no traffic yet", false, true, true, 60 * time.Second},
		{"healthy", true, false, false, time.Second},
		{"failing", true, true, false, 2 * time.Second},
		{"just failed", true, true, true, 3 * time.Second},
		{"just healthy", true, false, true, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testChecker(cfg)
			if tt.traffic {
				c.stats.CxTotal.Add(1)
			}
			if got := c.interval(tt.failed, tt.changed); got != tt.want {
				t.Errorf("interval = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIntervalJitter(t *testing.T) {
	c := testChecker(&spec.HealthCheck{Interval: time.Second, IntervalJitter: 100 * time.Millisecond, IntervalJitterPercent: 50})
	c.stats.CxTotal.Add(1)
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := c.interval(false, false)
		lo, hi = min(lo, d), max(hi, d)
	}
	// base 1s + [0, 100ms) + [0, 500ms)
	if lo < time.Second || hi >= 1600*time.Millisecond || hi-lo < 300*time.Millisecond {
		t.Errorf("intervals in [%v, %v], want spread within [1s, 1.6s)", lo, hi)
	}
}

func TestClassify(t *testing.T) {
	h := &spec.HTTPHealthCheck{Expected: []spec.StatusRange{{Start: 200, End: 300}}, Retriable: []spec.StatusRange{{Start: 503, End: 504}}}
	for code, want := range map[int]result{200: pass, 204: pass, 299: pass, 300: fail, 503: retriable, 500: fail} {
		if got := classify(h, code); got != want {
			t.Errorf("classify(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{{"PONG", true}, {"xxPOyyNGzz", true}, {"NGPO", false}, {"PO", false}}
	for _, tt := range tests {
		if got := matches([]byte(tt.in), [][]byte{[]byte("PO"), []byte("NG")}); got != tt.want {
			t.Errorf("matches(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestServingStatus(t *testing.T) {
	frame := func(msg ...byte) []byte { return append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...) }
	tests := []struct {
		name    string
		body    []byte
		want    uint64
		wantErr bool
	}{
		{"serving", frame(0x08, 1), 1, false},
		{"empty is unknown", frame(), 0, false},
		{"unknown string field skipped", frame(0x12, 2, 'h', 'i', 0x08, 2), 2, false},
		{"compressed", []byte{1, 0, 0, 0, 0}, 0, true},
		{"truncated", []byte{0, 0, 0, 0, 3, 0x08}, 0, true},
		{"short", []byte{0, 0}, 0, true},
	}
	for _, tt := range tests {
		got, err := servingStatus(tt.body)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: servingStatus = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestGRPCRequest(t *testing.T) {
	if got, want := string(grpcRequest("api")), "\x00\x00\x00\x00\x05\x0a\x03api"; got != want {
		t.Errorf("grpcRequest(api) = %q, want %q", got, want)
	}
	if got, want := string(grpcRequest("")), "\x00\x00\x00\x00\x00"; got != want {
		t.Errorf("grpcRequest(\"\") = %q, want %q", got, want)
	}
}

// TestAlwaysLogFailures: failed checks are logged at warn with
// always_log_health_check_failures, else only at debug; verdict changes
// are logged either way.
func TestAlwaysLogFailures(t *testing.T) {
	for _, always := range []bool{false, true} {
		var buf strings.Builder
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		c := New("be", &spec.HealthCheck{HealthyThreshold: 1, UnhealthyThreshold: 3, AlwaysLogFailures: always},
			&cluster.Runtime{}, &cluster.Stats{}, logger)
		h := c.rt.ActiveHealth(&cluster.State{})
		var s streak
		c.record(&s, h, pass, "a")
		c.record(&s, h, network, "a")
		if got := strings.Contains(buf.String(), "health check failed"); got != always {
			t.Errorf("always_log_health_check_failures %v: failure logged at info or above = %v", always, got)
		}
		if !strings.Contains(buf.String(), "endpoint passes its health check") {
			t.Errorf("always_log_health_check_failures %v: the change to healthy was not logged:\n%s", always, buf.String())
		}
	}
}
