package l7

import (
	"testing"
	"time"
)

// TestTrimmerDue: a trim is due once enough sessions were parked, and not
// again before trimEvery has passed, however many more are parked.
func TestTrimmerDue(t *testing.T) {
	var tr trimmer
	t0 := time.Unix(1000, 0)
	tr.parked, tr.lastPark = trimParks-1, t0 // still parking: no tail trim
	if tr.due(t0) {
		t.Fatal("due with fewer than trimParks parked")
	}
	tr.parked++
	if !tr.due(t0) {
		t.Fatal("not due with trimParks parked")
	}
	if tr.parked != 0 {
		t.Fatalf("parked = %d after a trim, want 0", tr.parked)
	}
	tr.parked = 10 * trimParks
	if tr.due(t0.Add(trimEvery - time.Millisecond)) {
		t.Fatal("due again before trimEvery")
	}
	if !tr.due(t0.Add(trimEvery)) {
		t.Fatal("not due after trimEvery")
	}
}

// TestTrimmerTail: the tail of a burst, fewer than trimParks sessions
// parked after the last trim, is trimmed once parking has been quiet for
// trimQuiet (and trimEvery has passed), not while sessions still park,
// and not for a handful of parks.
func TestTrimmerTail(t *testing.T) {
	var tr trimmer
	t0 := time.Unix(1000, 0)
	for range trimParks {
		tr.park(t0)
	}
	if !tr.due(t0) {
		t.Fatal("not due at trimParks")
	}
	for range trimParks / 2 {
		tr.park(t0.Add(time.Second))
	}
	if tr.due(t0.Add(trimEvery - time.Millisecond)) {
		t.Fatal("tail due before trimEvery")
	}
	tr.park(t0.Add(trimEvery))
	if tr.due(t0.Add(trimEvery + trimQuiet/2)) {
		t.Fatal("tail due while sessions still park")
	}
	if !tr.due(t0.Add(trimEvery + trimQuiet)) {
		t.Fatal("tail not due once quiet for trimQuiet")
	}
	for range trimTail - 1 {
		tr.park(t0.Add(2 * trimEvery))
	}
	if tr.due(t0.Add(4 * trimEvery)) {
		t.Fatal("due for fewer than trimTail parks")
	}
}
