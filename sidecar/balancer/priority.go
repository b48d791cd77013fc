package balancer

import (
	"slices"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// DefaultOverprovisioning is Envoy's overprovisioning factor, in percent.
const DefaultOverprovisioning = 140

// level is the endpoints of one priority, by availability, in
// configuration order.
type level struct {
	all, healthy, degraded []*cluster.Endpoint
}

// levels groups endpoints by priority, best (lowest) first; priorities
// nobody uses are skipped.
func levels(endpoints []*cluster.Endpoint) []level {
	var prios []uint32
	for _, e := range endpoints {
		if !slices.Contains(prios, e.Priority) {
			prios = append(prios, e.Priority)
		}
	}
	slices.Sort(prios)
	out := make([]level, len(prios))
	for _, e := range endpoints {
		l := &out[slices.Index(prios, e.Priority)]
		l.all = append(l.all, e)
		switch e.Availability() {
		case cluster.Available:
			l.healthy = append(l.healthy, e)
		case cluster.DegradedOnly:
			l.degraded = append(l.degraded, e)
		}
	}
	return out
}

// loads is how traffic is spread over levels, as Envoy's priority load:
// per level the percentage that goes to its healthy and to its degraded
// endpoints (all summing to 100, or all 0), and whether the level is in
// panic (balancing over all of its endpoints).
type loads struct {
	healthy, degraded []uint64
	panic             []bool
}

// availability returns a level's health and degraded percentages with the
// overprovisioning factor (percent) applied, each capped at 100.
func (l *level) availability(factor uint64) (health, degraded uint64) {
	n := uint64(len(l.all))
	return min(100, factor*uint64(len(l.healthy))/n), min(100, factor*uint64(len(l.degraded))/n)
}

// computeLoads is Envoy's recalculatePerPriorityState and
// recalculatePerPriorityPanic: each level takes traffic in proportion to
// its overprovisioned health, healthy endpoints of every level before
// degraded ones, so a level keeps all traffic while at least 1/factor of
// it is healthy and spills the rest to the next. A level whose healthy
// and degraded share is below threshold (percent; 0 disables) is in panic,
// unless the levels' total availability is 100%; when every level is in
// panic, traffic is spread by endpoint count.
func computeLoads(lv []level, factor uint64, threshold float64) loads {
	n := len(lv)
	ld := loads{healthy: make([]uint64, n), degraded: make([]uint64, n), panic: make([]bool, n)}
	health, degraded := make([]uint64, n), make([]uint64, n)
	var sum uint64
	for i := range lv {
		health[i], degraded[i] = lv[i].availability(factor)
		sum += health[i] + degraded[i]
	}
	total := min(100, sum)
	if total == 0 {
		ld.healthy[0] = 100
	} else {
		spread(ld, health, degraded, total)
	}
	if total == 0 && threshold == 0 {
		return ld
	}
	allPanic := true
	for i := range lv {
		ld.panic[i] = total < 100 && inPanic(&lv[i], threshold)
		allPanic = allPanic && ld.panic[i]
	}
	if allPanic {
		byCount(ld, lv)
	}
	return ld
}

// spread fills ld's loads from each level's availability, normalized by
// total (1..100): healthy first, then degraded, the rounding remainder
// to the first level with any.
func spread(ld loads, health, degraded []uint64, total uint64) {
	left := uint64(100)
	first := -1
	for i, h := range health {
		ld.healthy[i] = min(left, h*100/total)
		left -= ld.healthy[i]
		if first < 0 && h > 0 {
			first = i
		}
	}
	for i, d := range degraded {
		ld.degraded[i] = min(left, d*100/total)
		left -= ld.degraded[i]
	}
	if left == 0 {
		return
	}
	if first >= 0 {
		ld.healthy[first] += left
		return
	}
	for i, d := range degraded {
		if d > 0 {
			ld.degraded[i] += left
			return
		}
	}
}

// inPanic reports whether l's healthy and degraded share (without
// overprovisioning) is below threshold percent.
func inPanic(l *level, threshold float64) bool {
	up := float64(len(l.healthy) + len(l.degraded))
	return 100*up/float64(len(l.all)) < threshold
}

// byCount spreads traffic over levels in proportion to their endpoint
// counts (Envoy's recalculateLoadInTotalPanic).
func byCount(ld loads, lv []level) {
	var count uint64
	for i := range lv {
		count += uint64(len(lv[i].all))
	}
	left := uint64(100)
	for i := range lv {
		ld.healthy[i], ld.degraded[i] = 100*uint64(len(lv[i].all))/count, 0
		left -= ld.healthy[i]
	}
	ld.healthy[0] += left
}
