package stats

import (
	"testing"
	"time"
)

// TestSince checks that a window's quantiles see only the samples recorded
// in it.
func TestSince(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(700 * time.Millisecond) // (500, 1000]
	}
	before := h.Read()
	for range 10 {
		h.Record(3 * time.Millisecond) // (1, 5]
	}
	w := h.Read().Since(before)
	if w.Count != 10 {
		t.Fatalf("window count = %d, want 10", w.Count)
	}
	if got := w.Quantile(0.99); got <= 1 || got > 5 {
		t.Errorf("window p99 = %v, want in (1, 5]", got)
	}
	if got := w.SumMs; got != 30 {
		t.Errorf("window sum = %v, want 30", got)
	}
	if got := before.Since(h.Read()); got.Count != 0 || got.Quantile(0.5) != 0 {
		t.Errorf("a window that goes backwards = %+v, want empty", got)
	}
}
