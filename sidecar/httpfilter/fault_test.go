package httpfilter

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

var none = spec.Fraction{Denominator: 100}

func req(headers ...string) *route.Request {
	r := &route.Request{Method: []byte("GET"), Path: []byte("/")}
	for i := 0; i < len(headers); i += 2 {
		r.Headers = append(r.Headers, route.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

// clientGone is a Waiter whose client has gone away.
type clientGone struct{}

func (clientGone) Wait(time.Duration) bool { return false }

// TestFault runs requests through fault filters and reports the status,
// the reply and the delay each got.
func TestFault(t *testing.T) {
	abort503 := &spec.FaultAbort{Status: 503, Percent: all}
	headerAbort := &spec.FaultAbort{FromHeader: true, Percent: all}
	tests := []struct {
		name      string
		cfg       spec.Fault
		req       *route.Request
		wait      Waiter
		want      Status
		wantCode  int
		wantBody  string
		wantDelay time.Duration
		wantFlags string
	}{
		{name: "abort", cfg: spec.Fault{Abort: abort503}, req: req(), want: StopReply, wantCode: 503, wantBody: "fault filter abort", wantFlags: "FI"},
		{name: "abort body", cfg: spec.Fault{Abort: &spec.FaultAbort{Status: 500, Percent: all, Body: "boom"}}, req: req(), want: StopReply, wantCode: 500, wantBody: "boom", wantFlags: "FI"},
		{name: "abort 0%", cfg: spec.Fault{Abort: &spec.FaultAbort{Status: 503, Percent: none}}, req: req(), wantFlags: "-"},
		{name: "headers match", cfg: spec.Fault{Abort: abort503, Headers: []spec.HeaderMatch{{Name: "x-chaos", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "on"}}}},
			req: req("X-Chaos", "on"), want: StopReply, wantCode: 503, wantBody: "fault filter abort", wantFlags: "FI"},
		{name: "headers do not match", cfg: spec.Fault{Abort: abort503, Headers: []spec.HeaderMatch{{Name: "x-chaos", Match: spec.StringMatch{Kind: spec.MatchExact, Value: "on"}}}},
			req: req("x-chaos", "off"), wantFlags: "-"},
		{name: "header abort", cfg: spec.Fault{Abort: headerAbort}, req: req(hdrAbort, "418", hdrAbortPercent, "100"),
			want: StopReply, wantCode: 418, wantBody: "fault filter abort", wantFlags: "FI"},
		{name: "header abort percentage capped by config", cfg: spec.Fault{Abort: &spec.FaultAbort{FromHeader: true, Percent: none}},
			req: req(hdrAbort, "418", hdrAbortPercent, "100"), wantFlags: "-"},
		{name: "header abort out of range", cfg: spec.Fault{Abort: &spec.FaultAbort{FromHeader: true, Percent: all}}, req: req(hdrAbort, "600"), wantFlags: "-"},
		{name: "header abort absent", cfg: spec.Fault{Abort: &spec.FaultAbort{FromHeader: true, Percent: all}}, req: req(), wantFlags: "-"},
		{name: "fixed delay", cfg: spec.Fault{Delay: &spec.FaultDelay{Fixed: 2 * time.Second, Percent: all}}, req: req(), wantDelay: 2 * time.Second, wantFlags: "DI"},
		{name: "delay then abort", cfg: spec.Fault{Delay: &spec.FaultDelay{Fixed: time.Second, Percent: all}, Abort: abort503}, req: req(),
			want: StopReply, wantCode: 503, wantBody: "fault filter abort", wantDelay: time.Second, wantFlags: "DI,FI"},
		{name: "header delay", cfg: spec.Fault{Delay: &spec.FaultDelay{FromHeader: true, Percent: all}}, req: req(hdrDelay, "1500"), wantDelay: 1500 * time.Millisecond, wantFlags: "DI"},
		{name: "header delay 0%", cfg: spec.Fault{Delay: &spec.FaultDelay{FromHeader: true, Percent: all}}, req: req(hdrDelay, "1500", hdrDelayPercent, "0"), wantFlags: "-"},
		{name: "header delay not a number", cfg: spec.Fault{Delay: &spec.FaultDelay{FromHeader: true, Percent: all}}, req: req(hdrDelay, "1.5"), wantFlags: "-"},
		{name: "client gone during delay", cfg: spec.Fault{Delay: &spec.FaultDelay{Fixed: time.Hour, Percent: all}, Abort: abort503}, req: req(), wait: clientGone{},
			want: StopReset, wantFlags: "DI"},
		{name: "max_active_faults 0", cfg: spec.Fault{Abort: abort503, MaxActiveFaults: new(uint32(0))}, req: req(), wantFlags: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := compileOne(t, FaultType, &tt.cfg, nil)
				var s Stream
				s.Reset(tt.req, tt.wait)
				start := time.Now()
				got := c.RequestHeaders(&s, 0)
				if d := time.Since(start); got != tt.want || d != tt.wantDelay || s.Flags.String() != tt.wantFlags {
					t.Errorf("got %d after %v, flags %s; want %d after %v, flags %s", got, d, s.Flags, tt.want, tt.wantDelay, tt.wantFlags)
				}
				if got == StopReply && (s.Reply.Status != tt.wantCode || s.Reply.Body != tt.wantBody) {
					t.Errorf("reply %d %q, want %d %q", s.Reply.Status, s.Reply.Body, tt.wantCode, tt.wantBody)
				}
				if n := c.base.req[0].(*fault).Stats.ActiveFaults.Load(); n != 0 {
					t.Errorf("active faults after the request = %d, want 0", n)
				}
			})
		})
	}
}

// TestFaultHeaderPercentage checks the header-controlled fraction over
// many requests: 50 of the configured 100 aborts about half.
func TestFaultHeaderPercentage(t *testing.T) {
	c := compileOne(t, FaultType, &spec.Fault{Abort: &spec.FaultAbort{FromHeader: true, Percent: all}}, nil)
	aborted := 0
	for range 4000 {
		var s Stream
		s.Reset(req(hdrAbort, "503", hdrAbortPercent, "50"), nil)
		if c.RequestHeaders(&s, 0) == StopReply {
			aborted++
		}
	}
	if aborted < 1700 || aborted > 2300 {
		t.Errorf("%d of 4000 aborted, want about 2000", aborted)
	}
}

// TestFaultMaxActive shows max_active_faults: while one delay is running,
// a second request gets no fault and counts as an overflow.
func TestFaultMaxActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := compileOne(t, FaultType, &spec.Fault{Delay: &spec.FaultDelay{Fixed: time.Second, Percent: all}, MaxActiveFaults: new(uint32(1))}, nil)
		f := c.base.req[0].(*fault)
		go func() {
			var s Stream
			s.Reset(req(), nil)
			c.RequestHeaders(&s, 0)
		}()
		synctest.Wait()
		var s Stream
		s.Reset(req(), nil)
		start := time.Now()
		c.RequestHeaders(&s, 0)
		if d := time.Since(start); d != 0 || s.Flags != 0 {
			t.Errorf("second request delayed %v with flags %s, want no fault", d, s.Flags)
		}
		if f.Stats.FaultsOverflow.Load() != 1 || f.Stats.ActiveFaults.Load() != 1 {
			t.Errorf("overflow %d active %d, want 1 1", f.Stats.FaultsOverflow.Load(), f.Stats.ActiveFaults.Load())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if f.Stats.DelaysInjected.Load() != 1 || f.Stats.ActiveFaults.Load() != 0 {
			t.Errorf("delays %d active %d, want 1 0", f.Stats.DelaysInjected.Load(), f.Stats.ActiveFaults.Load())
		}
	})
}
