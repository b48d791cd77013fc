package main

import (
	"fmt"
	"slices"
	"time"
)

// scenario is one fault: what it does to the pool's backends (returning
// those it faulted) and how they come back (nil: the fault is its own
// recovery, as a quick restart).
type scenario struct {
	name    string
	backup  bool
	fault   func(p pool) ([]*backend, error)
	recover func(faulted []*backend) error
}

var scenarios = []scenario{
	{name: "kill -9 one of 3, then restart it",
		fault:   func(p pool) ([]*backend, error) { p.primary[0].kill(); return p.primary[:1], nil },
		recover: startAll},
	{name: "hang one of 3 (SIGSTOP), then SIGCONT",
		fault:   func(p pool) ([]*backend, error) { p.primary[0].hang(); return p.primary[:1], nil },
		recover: func(f []*backend) error { f[0].resume(); return nil }},
	{name: "restart one of 3 (SIGTERM, start again)",
		fault: func(p pool) ([]*backend, error) { return p.primary[:1], p.primary[0].restart() }},
	{name: "kill -9 both primaries (backup takes over), then restart them", backup: true,
		fault: func(p pool) ([]*backend, error) {
			p.primary[0].kill()
			p.primary[1].kill()
			return p.primary, nil
		},
		recover: startAll},
}

func startAll(bs []*backend) error {
	for _, b := range bs {
		if err := b.start(); err != nil {
			return err
		}
	}
	return nil
}

// newPool starts the scenario's backends: a, b, c as primaries, or a and
// b with c as the backup.
func newPool(backup bool) (pool, error) {
	var p pool
	for _, name := range []string{"a", "b", "c"} {
		b, err := startBackend(name)
		if err != nil {
			stopPool(p)
			return p, err
		}
		if backup && name == "c" {
			p.backup = b
		} else {
			p.primary = append(p.primary, b)
		}
	}
	return p, nil
}

func stopPool(p pool) {
	for _, b := range p.all() {
		b.resume()
		b.kill()
	}
}

// play runs sc once through a proxy that start starts, and returns the
// table row's cells after the scenario and proxy names.
func play(sc scenario, start func(pool) (proxy, error), o options) (string, error) {
	p, err := newPool(sc.backup)
	if err != nil {
		return "", err
	}
	defer stopPool(p)
	px, err := start(p)
	if err != nil {
		return "", err
	}
	defer px.stop()
	stop := make(chan struct{})
	done := make(chan []result)
	go func() { done <- load(px.url(), o.rate, 16, stop) }()
	time.Sleep(o.warm)

	faultAt := time.Now()
	faulted, err := sc.fault(p)
	if err != nil {
		close(stop)
		<-done
		return "", err
	}
	backAt := time.Now() // a fault with no recovery step is back at once
	detect := waitDown(px, faulted, o.hold)
	if sc.recover != nil {
		time.Sleep(time.Until(faultAt.Add(o.hold)))
		backAt = time.Now()
		if err := sc.recover(faulted); err != nil {
			close(stop)
			<-done
			return "", err
		}
	}
	time.Sleep(time.Until(backAt.Add(o.hold)))
	close(stop)
	return row(<-done, faulted, detect, backAt), nil
}

// waitDown polls until px has taken every faulted backend out, for at
// most bound, and returns how long that took (0: not within bound).
func waitDown(px proxy, faulted []*backend, bound time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < bound {
		if !slices.ContainsFunc(faulted, func(b *backend) bool { return !px.down(b) }) {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// row summarizes results: failures, the detection time, when each
// faulted backend served a request after backAt, and the slowest request.
func row(rs []result, faulted []*backend, detect time.Duration, backAt time.Time) string {
	var failed int
	var slowest time.Duration
	served := map[string]time.Duration{}
	for _, r := range rs {
		if !r.ok {
			failed++
		}
		slowest = max(slowest, r.latency)
		end := r.at.Add(r.latency)
		if r.ok && end.After(backAt) {
			if d, seen := served[r.backend]; !seen || end.Sub(backAt) < d {
				served[r.backend] = end.Sub(backAt)
			}
		}
	}
	var recover time.Duration
	for _, b := range faulted {
		d, ok := served[b.name]
		if !ok {
			return fmt.Sprintf("%d / %d | %s | not back | %s", failed, len(rs), ms(detect), ms(slowest))
		}
		recover = max(recover, d)
	}
	return fmt.Sprintf("%d / %d | %s | %s | %s", failed, len(rs), ms(detect), ms(recover), ms(slowest))
}

// ms renders d in milliseconds; 0 means it did not happen.
func ms(d time.Duration) string {
	if d == 0 {
		return "not detected"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
