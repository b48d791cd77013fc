package l7

import (
	"net"
	"testing"
	"time"
)

// TestHardDeadlineKeptEarlyRefires: a route timeout close to the one in
// force keeps the earlier deadline instead of resetting the timer, and when
// that one fires the read goes on until the real bound.
func TestHardDeadlineKeptEarlyRefires(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var rd reader
	rd.init(a)
	defer rd.drop()

	t0 := time.Now()
	hard1, hard2 := t0.Add(800*time.Millisecond), t0.Add(900*time.Millisecond)
	rd.tm.set(0, hard1)
	rd.tm.arm(a)
	if !rd.tm.dl.at.Equal(hard1) || rd.tm.early {
		t.Fatalf("first arm: deadline %v early %v, want %v exactly", rd.tm.dl.at.Sub(t0), rd.tm.early, hard1.Sub(t0))
	}
	rd.tm.set(0, hard2)
	rd.tm.arm(a)
	if !rd.tm.dl.at.Equal(hard1) || !rd.tm.early {
		t.Fatalf("second arm: deadline %v early %v, want the first one kept, early", rd.tm.dl.at.Sub(t0), rd.tm.early)
	}

	// The byte comes after the kept deadline and before the real bound.
	time.AfterFunc(time.Until(t0.Add(850*time.Millisecond)), func() { b.Write([]byte("x")) })
	if err := rd.fill(); err != nil {
		t.Fatalf("fill: %v, want the byte sent before the route timeout", err)
	}
	if got := string(rd.buffered()); got != "x" {
		t.Fatalf("read %q, want %q", got, "x")
	}
}

// TestHardDeadlineFarMovesExactly: a bound far from the one in force is
// set as it is.
func TestHardDeadlineFarMovesExactly(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var rd reader
	rd.init(a)
	t0 := time.Now()
	for _, hard := range []time.Time{t0.Add(time.Second), t0.Add(3 * time.Second), t0.Add(500 * time.Millisecond)} {
		rd.tm.set(0, hard)
		rd.tm.arm(a)
		if !rd.tm.dl.at.Equal(hard) || rd.tm.early {
			t.Errorf("arm for %v: deadline %v early %v, want exact", hard.Sub(t0), rd.tm.dl.at.Sub(t0), rd.tm.early)
		}
	}
}

// BenchmarkArmHard measures arming consecutive requests' route timeouts
// on a keep-alive connection: most keep the deadline in force.
func BenchmarkArmHard(b *testing.B) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	var tm timeouts
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		tm.set(0, now.Add(15*time.Second))
		tm.dl.hint = now
		tm.arm(c1)
	}
}
