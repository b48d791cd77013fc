package health

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
	"github.com/meshlb/meshlb/sidecar/cluster"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// TestCheckTimeout: a check whose endpoint accepts but never answers
// fails at the health check's timeout.
func TestCheckTimeout(t *testing.T) {
	ln := loopback.Listen(t)
	loopback.Serve(t, ln, func(ctx context.Context, c net.Conn) { <-ctx.Done(); c.Close() })
	cfg := fastCheck()
	cfg.Timeout, cfg.UnhealthyThreshold = 200*time.Millisecond, 1
	cfg.HTTP = &spec.HTTPHealthCheck{Host: "hc.local", Path: "/healthz", Method: "GET", Expected: []spec.StatusRange{{Start: 200, End: 201}}}
	rt := &cluster.Runtime{}
	var rebuilds atomic.Int64
	cl := clusterOf(rt, &rebuilds, ln.Addr().String())
	c := New("be", cfg, rt, cl.Stats, discard())
	rt.SetChecker(c)
	defer rt.SetChecker(nil)
	start := time.Now()
	c.Update(cl)
	h := cl.Endpoints[0].Active
	waitFor(t, "the first check to time out", func() bool { return cl.Stats.HealthCheck.Failure.Load() > 0 })
	if took := time.Since(start); took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("first failure after %v, want about the 200ms timeout", took)
	}
	if !h.Failed() {
		t.Error("the endpoint is not failed after a timed-out check")
	}
}
