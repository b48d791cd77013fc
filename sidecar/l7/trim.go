package l7

import (
	"runtime"
	"runtime/debug"
	"time"
)

// A burst of connections that go idle leaves behind the memory it was
// served with: request buffers in pools, goroutine stacks, heap the
// runtime keeps for minutes before it returns it to the OS. A proxy holds
// idle keep-alive connections by the thousand, so once many have been
// parked the parker gives that memory back at once, as HAProxy trims its
// pools when it goes idle. The cost is two garbage collections, at most
// once per trimEvery, and only after trimParks sessions were parked, or
// trimTail once parking has been quiet for trimQuiet: the tail of a burst
// (a trim at its 1024th park leaves the rest of it behind) is trimmed too.
const (
	trimParks = 1024
	trimTail  = 128
	trimQuiet = time.Second
	trimEvery = 10 * time.Second
)

// trimmer decides when the parker trims; the parker's lock guards it.
type trimmer struct {
	parked   int       // sessions parked since the last trim
	last     time.Time // the last trim
	lastPark time.Time // the last park
}

// park counts a session parked at now.
func (t *trimmer) park(now time.Time) {
	t.parked++
	t.lastPark = now
}

// due reports whether a trim is due now, and if so starts counting anew.
func (t *trimmer) due(now time.Time) bool {
	enough := t.parked >= trimParks || (t.parked >= trimTail && now.Sub(t.lastPark) >= trimQuiet)
	if !enough || now.Sub(t.last) < trimEvery {
		return false
	}
	t.parked, t.last = 0, now
	return true
}

// trimHeap collects twice (sync.Pool keeps its objects one collection
// longer) and returns the free heap to the OS.
func trimHeap() {
	runtime.GC()
	debug.FreeOSMemory()
}
