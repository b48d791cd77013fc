package stats

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, 400 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Hour} {
		h.Record(d)
	}
	s := h.Read()
	if s.Count != 5 {
		t.Fatalf("count = %d, want 5", s.Count)
	}
	want := []uint64{2, 3, 4} // <=0.5, <=1, <=5
	if diff := cmp.Diff(want, s.Cumulative[:3]); diff != "" {
		t.Errorf("cumulative (-want +got):\n%s", diff)
	}
	if got := s.Cumulative[len(Bounds)-1]; got != 4 {
		t.Errorf("<=3600000: %d, want 4 (2h is in +Inf)", got)
	}
	if got, want := s.SumMs, 0.4+1+3+7200000.0; got != want {
		t.Errorf("sum = %v, want %v", got, want)
	}
}

func TestQuantile(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(7 * time.Millisecond) // bucket (5, 10]
	}
	s := h.Read()
	if got := s.Quantile(0.5); got != 7.5 {
		t.Errorf("p50 = %v, want 7.5 (interpolated in (5,10])", got)
	}
	var empty Snapshot
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}

func TestStatusCodes(t *testing.T) {
	var s Status
	var wg sync.WaitGroup
	for _, c := range []int{200, 503, 200, 404, 200, 999, 101} {
		wg.Go(func() { s.CountStatus(c) })
	}
	wg.Wait()
	got := map[int]uint64{}
	s.Codes(func(c int, n uint64) { got[c] = n })
	if diff := cmp.Diff(map[int]uint64{200: 3, 503: 1, 404: 1, 101: 1}, got); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([5]uint64{1, 3, 0, 1, 1}, s.Classes()); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}
}

func TestStatusTableFull(t *testing.T) {
	var s Status
	for c := 500; c < 500+codeSlots+3; c++ {
		s.CountStatus(c)
	}
	n := 0
	s.Codes(func(int, uint64) { n++ })
	if n != codeSlots || s.Rq5xx.Load() != codeSlots+3 {
		t.Errorf("codes kept %d (want %d), 5xx %d (want %d)", n, codeSlots, s.Rq5xx.Load(), codeSlots+3)
	}
}

func BenchmarkCountStatus(b *testing.B) {
	var s Status
	s.CountStatus(404)
	b.ReportAllocs()
	for b.Loop() {
		s.CountStatus(200)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for b.Loop() {
		h.Record(3 * time.Millisecond)
	}
}
