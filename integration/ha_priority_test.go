package integration

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// addrOf is a backend's address as /clusters names it.
func addrOf(b *hcBackend) string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// waitFlags waits until each backend's /clusters health_flags is flags.
func waitFlags(t *testing.T, c *http.Client, adminPort int, flags string, backends ...*hcBackend) time.Duration {
	t.Helper()
	return eventually(t, fmt.Sprintf("%d backends to be %s", len(backends), flags), func() bool {
		return flagged(c, adminPort, flags, backends...)
	})
}

// clusterCounter reads cluster.be.<name> from the admin's /stats.
func clusterCounter(t *testing.T, c *http.Client, adminPort int, name string) uint64 {
	t.Helper()
	_, body, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/stats", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "cluster.be."+name+": "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("cluster.be.%s: %v", name, err)
			}
			return n
		}
	}
	t.Fatalf("/stats has no cluster.be.%s", name)
	return 0
}

// hits returns each backend's request count.
func hits(backends ...*hcBackend) []int64 {
	out := make([]int64, len(backends))
	for i, b := range backends {
		out[i] = b.hits.Load()
	}
	return out
}

// watch samples v every 50 ms for d after since, and returns when cond
// first held (0: never) and when v last changed (0: never).
func watch(d time.Duration, since time.Time, cond func() bool, v func() int64) (held, changed time.Duration) {
	prev := v()
	for time.Since(since) < d {
		if n := v(); n != prev {
			prev, changed = n, time.Since(since)
		}
		if held == 0 && cond() {
			held = time.Since(since)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return held, changed
}

// flagged reports whether each backend's /clusters health_flags is flags.
func flagged(c *http.Client, adminPort int, flags string, backends ...*hcBackend) bool {
	for _, b := range backends {
		if v, err := endpointStat(c, adminPort, addrOf(b), "health_flags"); err != nil || v != flags {
			return false
		}
	}
	return true
}

// TestPriorityFailoverAndBack: backends a and b at priority 0, c at
// priority 1 (HAProxy's backup), an HTTP health check (1 s, thresholds
// 2) and a paced load of GETs through a real sidecar. c gets nothing
// while a and b are up. Both are killed: no request fails (connect
// failures are redispatched to c), and priority 0 gets no attempt once
// its checks fail. They are restarted: traffic returns to them within
// the healthy threshold and c is idle again.
func TestPriorityFailoverAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a, b, c := startHCBackend(t, "a"), startHCBackend(t, "b"), startHCBackend(t, "c")
	bs := hcBootstrap(t, a, b, c)
	bs.priorities = []int{0, 0, 1}
	start(t, "sidecar", "sidecar", "--config", bs.write(t))
	waitReady(t, bs.adminPort)
	admin := &http.Client{Timeout: 2 * time.Second}
	waitFlags(t, admin, bs.adminPort, "healthy", a, b, c)

	const rate = 200
	ld := startPaced(fmt.Sprintf("http://127.0.0.1:%d/", bs.httpPort), rate, 8)
	time.Sleep(2 * time.Second) // steady traffic to priority 0
	if n := c.hits.Load(); n != 0 || a.hits.Load() == 0 || b.hits.Load() == 0 {
		t.Errorf("before the kill: hits %v, want a and b only", hits(a, b, c))
	}

	a.kill()
	b.kill()
	killed := time.Now()
	dials := func() int64 {
		var n int64
		for _, x := range []*hcBackend{a, b} {
			v, _ := endpointStat(admin, bs.adminPort, addrOf(x), "cx_connect_fail")
			m, _ := strconv.ParseInt(v, 10, 64)
			n += m
		}
		return n
	}
	down, lastDial := watch(4*time.Second, killed,
		func() bool { return flagged(admin, bs.adminPort, "/failed_active_hc", a, b) }, dials)
	cBefore := c.hits.Load()

	a.restart(t)
	b.restart(t)
	restarted := time.Now()
	ab := hits(a, b)
	back, lastBackup := watch(4*time.Second, restarted, func() bool {
		now := hits(a, b)
		return now[0] > ab[0] && now[1] > ab[1]
	}, c.hits.Load)
	ok, fail, errs := ld.finish()
	t.Logf("all of priority 0 killed: flagged after %v, last connect attempt to it %v after the kill, backup served %d; "+
		"restarted: back in traffic after %v, backup's last request %v after the restart; load %d ok, %d failed at %d/s; hits a,b,c %v",
		down, lastDial, cBefore, back, lastBackup, ok, fail, rate, hits(a, b, c))
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
	if cBefore == 0 {
		t.Errorf("priority 1 got no traffic while priority 0 was down")
	}
	if down == 0 || down > 3*time.Second || lastDial > 3*time.Second {
		t.Errorf("priority 0 flagged after %v, connect attempts to it until %v after the kill, want both within 3s", down, lastDial)
	}
	if back == 0 || back > 3*time.Second || lastBackup > 3500*time.Millisecond {
		t.Errorf("priority 0 back after %v and priority 1 idle after %v, want within 3s and 3.5s", back, lastBackup)
	}
}

// TestPanicModeBelowThreshold: 4 backends at one priority, all serving,
// under a paced load. 3 of them start failing their health check (they
// still answer requests): with 1 of 4 healthy, below the default 50%
// healthy_panic_threshold, the sidecar balances over all 4 (Envoy's
// panic mode) and counts lb_healthy_panic. 2 of them recover: with 3 of
// 4 healthy, the sick one gets nothing and panic picks stop. No request
// fails.
func TestPanicModeBelowThreshold(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	all := []*hcBackend{startHCBackend(t, "a"), startHCBackend(t, "b"), startHCBackend(t, "c"), startHCBackend(t, "d")}
	bs := hcBootstrap(t, all...)
	start(t, "sidecar", "sidecar", "--config", bs.write(t))
	waitReady(t, bs.adminPort)
	admin := &http.Client{Timeout: 2 * time.Second}
	waitFlags(t, admin, bs.adminPort, "healthy", all...)

	const rate, window = 200, 2 * time.Second
	ld := startPaced(fmt.Sprintf("http://127.0.0.1:%d/", bs.httpPort), rate, 8)
	// share measures each backend's requests and the panic picks over
	// the window.
	share := func() ([]int64, uint64) {
		h0, p0 := hits(all...), clusterCounter(t, admin, bs.adminPort, "lb_healthy_panic")
		time.Sleep(window)
		h1, p1 := hits(all...), clusterCounter(t, admin, bs.adminPort, "lb_healthy_panic")
		for i := range h1 {
			h1[i] -= h0[i]
		}
		return h1, p1 - p0
	}
	for _, b := range all[1:] {
		b.sick.Store(true)
	}
	sick := waitFlags(t, admin, bs.adminPort, "/failed_active_hc", all[1:]...)
	inPanic, panicPicks := share()

	all[1].sick.Store(false)
	all[2].sick.Store(false)
	waitFlags(t, admin, bs.adminPort, "healthy", all[:3]...)
	recovered, calmPicks := share()
	ok, fail, errs := ld.finish()
	t.Logf("3 of 4 failing checks (flagged after %v): requests per backend in %v %v, lb_healthy_panic +%d; "+
		"2 recovered: %v, lb_healthy_panic +%d; load %d ok, %d failed", sick, window, inPanic, panicPicks, recovered, calmPicks, ok, fail)
	var total int64
	for _, n := range inPanic {
		total += n
	}
	for i, n := range inPanic {
		if total == 0 || float64(n)/float64(total) < 0.15 {
			t.Errorf("in panic, backend %s got %d of %d requests, want about a quarter", all[i].name, n, total)
		}
	}
	if panicPicks == 0 || calmPicks != 0 {
		t.Errorf("lb_healthy_panic grew by %d in panic and %d after, want >0 and 0", panicPicks, calmPicks)
	}
	if recovered[3] != 0 || recovered[0] == 0 || recovered[1] == 0 || recovered[2] == 0 {
		t.Errorf("after recovery: requests per backend %v, want none to d and some to each other", recovered)
	}
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
}
