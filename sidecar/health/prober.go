package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// result is how one check ended.
type result uint8

const (
	pass      result = iota
	fail             // an unexpected status: failing at once
	retriable        // a retriable status: counts toward the threshold
	network          // no connection, reset or timeout: counts toward the threshold
)

// prober is the goroutine checking one endpoint.
type prober struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// streak counts an endpoint's consecutive results.
type streak struct {
	checked             bool
	successes, failures uint32
}

func (c *Checker) start(st *cluster.State, h *cluster.ActiveHealth) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		c.run(ctx, st, h)
	}()
	return p
}

// run checks st until ctx is done: first after a random part of the
// initial jitter, then at the interval its verdict calls for.
func (c *Checker) run(ctx context.Context, st *cluster.State, h *cluster.ActiveHealth) {
	t := time.NewTimer(jitter(c.cfg.InitialJitter))
	defer t.Stop()
	var s streak
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.stats.HealthCheck.Attempt.Add(1)
		res := c.check(ctx, st)
		if ctx.Err() != nil {
			return
		}
		changed := c.record(&s, h, res, st.Addr)
		if changed {
			c.rt.Rebuild()
		}
		t.Reset(c.interval(h.Failed(), changed))
	}
}

// record counts res and updates the verdict h, reporting whether it
// changed. As in Envoy: an endpoint not yet checked turns healthy on one
// success; a failing one on healthy_threshold successes in a row; a
// healthy one fails at once on an unexpected status, or on
// unhealthy_threshold network failures or retriable statuses in a row.
func (c *Checker) record(s *streak, h *cluster.ActiveHealth, res result, addr string) bool {
	hc := &c.stats.HealthCheck
	first := !s.checked
	s.checked = true
	if res == pass {
		hc.Success.Add(1)
		s.failures = 0
		s.successes++
		if h.Failed() && (first || s.successes >= c.cfg.HealthyThreshold) {
			h.SetFailed(false)
			c.logger.Info("endpoint passes its health check", "endpoint", addr)
			return true
		}
		return false
	}
	hc.Failure.Add(1)
	if res == network {
		hc.NetworkFailure.Add(1)
	}
	s.successes = 0
	s.failures++
	c.logFailure(addr, res)
	if h.Failed() || (res != fail && s.failures < c.cfg.UnhealthyThreshold) {
		return false
	}
	h.SetFailed(true)
	c.logger.Warn("endpoint fails its health check", "endpoint", addr, "failures", s.failures)
	return true
}

func (c *Checker) logFailure(addr string, res result) {
	level := slog.LevelDebug
	if c.cfg.AlwaysLogFailures {
		level = slog.LevelWarn
	}
	c.logger.Log(context.Background(), level, "health check failed", "endpoint", addr, "result", res.String())
}

func (r result) String() string {
	switch r {
	case fail:
		return "unexpected status"
	case retriable:
		return "retriable status"
	case network:
		return "network failure"
	}
	return "pass"
}

// interval is the wait before the next check, as Envoy's: the
// no_traffic_interval while the cluster has never made an upstream
// connection, else by the verdict and whether it just changed, plus the
// jitters.
func (c *Checker) interval(failed, changed bool) time.Duration {
	cfg := c.cfg
	var base time.Duration
	switch {
	case c.stats.CxTotal.Load() == 0:
		base = cfg.NoTrafficInterval
	case failed && changed:
		base = cfg.UnhealthyEdgeInterval
	case failed:
		base = cfg.UnhealthyInterval
	case changed:
		base = cfg.HealthyEdgeInterval
	default:
		base = cfg.Interval
	}
	d := base + jitter(cfg.IntervalJitter)
	if cfg.IntervalJitterPercent > 0 {
		d += jitter(base * time.Duration(cfg.IntervalJitterPercent) / 100)
	}
	return d
}

// jitter returns a random duration in [0, max), 0 when max <= 0.
func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(max)))
}
