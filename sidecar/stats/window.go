package stats

// Since returns the samples recorded between prev and s, two reads of the
// same histogram with prev taken first: quantiles of the result describe
// that window only (a dashboard's "latency over the last seconds"). A
// bucket that went backwards, as after the histogram was replaced, counts
// as empty.
func (s Snapshot) Since(prev Snapshot) Snapshot {
	var d Snapshot
	for i := range s.Cumulative {
		d.Cumulative[i] = sub(s.Cumulative[i], prev.Cumulative[i])
	}
	d.Count = sub(s.Count, prev.Count)
	if s.SumMs > prev.SumMs {
		d.SumMs = s.SumMs - prev.SumMs
	}
	// Cumulative counts must not decrease, nor pass Count, for Quantile.
	for i := 1; i < len(d.Cumulative); i++ {
		d.Cumulative[i] = max(d.Cumulative[i], d.Cumulative[i-1])
	}
	if n := d.Cumulative[len(d.Cumulative)-1]; n > d.Count {
		d.Count = n
	}
	return d
}

// sub returns a-b, or 0 if b > a.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
