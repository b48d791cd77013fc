package balancer

import (
	"math/rand/v2"

	"github.com/meshlb/meshlb/sidecar/cluster"
)

// maxSkipLevels bounds the priority levels a retry can skip among; a
// cluster with more picks as usual (Envoy clusters rarely have over 3).
const maxSkipLevels = 16

// tierLevel is one priority level as a pick that skips levels sees it:
// its overprovisioned availability (percent, capped at 100), whether it is
// in panic, and the pickers over its healthy, degraded and (in panic) all
// endpoints, nil where there are none.
type tierLevel struct {
	prio               uint32
	health, degraded   uint64
	panic              bool
	healthy, degr, all cluster.Picker
}

// bucket returns the level's picker for its healthy or degraded share:
// every endpoint's in panic, as Envoy.
func (t *tierLevel) bucket(healthy bool) cluster.Picker {
	switch {
	case t.panic:
		return t.all
	case healthy:
		return t.healthy
	}
	return t.degr
}

// skipped reports whether skip (bit p for priority p) names the level.
func (t *tierLevel) skipped(skip uint64) bool {
	return t.prio < 64 && skip&(1<<t.prio) != 0
}

// leveled is the picker of a cluster with several priority levels or one
// in panic: Pick is its tiered picker's, PickSkipping redoes Envoy's
// priority load without the skipped levels (the previous_priorities retry
// priority's adjustForAttemptedPriorities), SkipsAll says when that
// leaves no level available, and PanicLevels names the levels in panic.
type leveled struct {
	cluster.Picker
	levels  []tierLevel
	hashing bool
	panics  uint64
}

var (
	_ cluster.LevelSkipper  = (*leveled)(nil)
	_ cluster.PanicReporter = (*leveled)(nil)
)

func (l *leveled) PanicLevels() uint64 { return l.panics }

// observingLeveled is a leveled picker whose policy learns from outcomes.
type observingLeveled struct {
	leveled
	obs cluster.Observer
}

func (l *observingLeveled) Observe(ep *cluster.Endpoint, o cluster.Outcome) { l.obs.Observe(ep, o) }

// withLevels wraps p, the picker over levels, so that it can skip levels
// and report those in panic (panics).
func withLevels(p cluster.Picker, levels []tierLevel, hashing bool, panics uint64) cluster.Picker {
	l := leveled{Picker: p, levels: levels, hashing: hashing, panics: panics}
	if obs, ok := p.(cluster.Observer); ok {
		return &observingLeveled{leveled: l, obs: obs}
	}
	return &l
}

// PickSkipping picks as if the levels in skip had no available endpoint:
// the others' availabilities are spread to 100% again, healthy before
// degraded, and a level is chosen by the request's hash modulo 100 for
// hashing policies (at random otherwise); a level in panic balances over
// all its endpoints. When no level is left available it picks as Pick.
// It does not allocate.
func (l *leveled) SkipsAll(skip uint64) bool {
	if skip == 0 || len(l.levels) > maxSkipLevels {
		return false
	}
	for i := range l.levels {
		if t := &l.levels[i]; !t.skipped(skip) && t.health+t.degraded > 0 {
			return false
		}
	}
	return true
}

func (l *leveled) PickSkipping(hash, skip uint64) *cluster.Endpoint {
	n := len(l.levels)
	if skip == 0 || n > maxSkipLevels {
		return l.Pick(hash)
	}
	var health, degraded, hl, dl [maxSkipLevels]uint64
	var sum uint64
	for i := range l.levels {
		if t := &l.levels[i]; !t.skipped(skip) {
			health[i], degraded[i] = t.health, t.degraded
			sum += t.health + t.degraded
		}
	}
	if sum == 0 {
		return l.Pick(hash)
	}
	spread(loads{healthy: hl[:n], degraded: dl[:n]}, health[:n], degraded[:n], min(100, sum))
	var r uint64
	if l.hashing && hash != 0 {
		r = hash % 100
	} else {
		r = rand.Uint64N(100)
	}
	var p cluster.Picker
	for i, cum := 0, uint64(0); i < 2*n && p == nil; i++ {
		healthy, lvl := i < n, i%n
		if healthy {
			cum += hl[lvl]
		} else {
			cum += dl[lvl]
		}
		if r < cum {
			p = l.levels[lvl].bucket(healthy)
		}
	}
	if p == nil {
		return l.Pick(hash)
	}
	return p.Pick(hash)
}
