package cluster

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestHAStateSurvivesRestart: verdicts, ejections and latency estimates
// written by one registry seed those a new registry creates from the
// file, as a restarted sidecar's.
func TestHAStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ejectedAt := time.Now().Add(-5 * time.Second).Truncate(time.Millisecond)
	old := NewRegistry()
	rt := old.Runtime("be")
	a, b, c := old.Get("10.0.0.1:80", nil), old.Get("10.0.0.2:80", nil), old.Get("10.0.0.3:80", nil)
	rt.ActiveHealth(a).SetFailed(false)
	rt.ActiveHealth(b) // never passed: failing
	ej := rt.Ejection(c)
	ej.Record(ejectedAt, 2)
	ej.SetEjected(true)
	a.Latency.Observe(3*time.Millisecond, time.Now().UnixNano(), time.Second)
	stop := make(chan struct{})
	close(stop)
	old.PersistHA(stop, dir, time.Hour, slog.New(slog.DiscardHandler)) // writes once and returns

	st, err := LoadHA(dir)
	if err != nil || st == nil {
		t.Fatalf("LoadHA = %v, %v", st, err)
	}
	fresh := NewRegistry()
	fresh.RestoreHA(st)
	rt2 := fresh.Runtime("be")
	a2, b2, c2 := fresh.Get("10.0.0.1:80", nil), fresh.Get("10.0.0.2:80", nil), fresh.Get("10.0.0.3:80", nil)
	if rt2.ActiveHealth(a2).Failed() {
		t.Error("a: healthy before the restart, failing after")
	}
	if !rt2.ActiveHealth(b2).Failed() {
		t.Error("b: failing before the restart, healthy after")
	}
	ej2 := rt2.Ejection(c2)
	at, n := ej2.Recorded()
	if !ej2.Ejected() || !at.Equal(ejectedAt) || n != 2 {
		t.Errorf("c: ejected %v at %v (%d ejections), want ejected at %v (2)", ej2.Ejected(), at, n, ejectedAt)
	}
	if got := a2.Latency.Cost(); got != float64(3*time.Millisecond) {
		t.Errorf("a latency = %v, want 3ms", time.Duration(got))
	}
	if diff := cmp.Diff(st, fresh.SnapshotHA()); diff != "" {
		t.Errorf("state after restore (-before +after):\n%s", diff)
	}
	// An endpoint or cluster the state does not know starts as usual.
	if !fresh.Runtime("other").ActiveHealth(a2).Failed() {
		t.Error("unknown cluster: new endpoint starts healthy, want failing until checked")
	}
}

func TestLoadHAMissingOrBad(t *testing.T) {
	if st, err := LoadHA(t.TempDir()); st != nil || err != nil {
		t.Errorf("LoadHA(empty dir) = %v, %v, want nil, nil", st, err)
	}
}
