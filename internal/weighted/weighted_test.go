package weighted

import "testing"

func TestPickShares(t *testing.T) {
	var s Split
	s.Add(90)
	s.Add(10)
	s.Add(1)
	s.Add(0) // never picked
	counts := make([]int, 4)
	const n = 101000
	for range n {
		counts[s.Pick()]++
	}
	for i, want := range []float64{90.0 / 101, 10.0 / 101, 1.0 / 101, 0} {
		if got := float64(counts[i]) / n; got < want-0.01 || got > want+0.01 {
			t.Errorf("share of %d = %.3f, want %.3f +- 0.01", i, got, want)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	var s Split
	s.Add(3)
	s.Add(1)
	b.ReportAllocs()
	for b.Loop() {
		s.Pick()
	}
}
