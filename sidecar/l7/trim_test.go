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
	tr.parked = trimParks - 1
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
