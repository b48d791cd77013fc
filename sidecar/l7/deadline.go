package l7

import (
	"errors"
	"net"
	"os"
	"time"
)

// deadline is the read or write deadline in force on a connection. It
// moves the deadline lazily: an idle timeout is moved only when the one in
// force would fire more than an eighth of the timeout early or late, so a
// busy keep-alive connection does not reset a timer on every request.
type deadline struct {
	at    time.Time
	write bool // a write deadline, else a read deadline
	// hint, when set, is a reading of the clock its setter vouches for:
	// nothing that can block has run since it was taken. The next
	// extend or arm uses it instead of reading the clock (a clock read
	// costs 100-300 ns on a virtual machine), and clears it.
	hint time.Time
}

// clearHint drops a hint not used: its owner's call is over.
func (d *deadline) clearHint() { d.hint = time.Time{} }

// now returns the hint, clearing it, or else reads the clock.
func (d *deadline) now() time.Time {
	if t := d.hint; !t.IsZero() {
		d.hint = time.Time{}
		return t
	}
	return time.Now()
}

// extend sets the deadline to about now+timeout; timeout <= 0 clears it.
func (d *deadline) extend(c net.Conn, now time.Time, timeout time.Duration) {
	if timeout <= 0 {
		d.clear(c)
		return
	}
	d.move(c, now, now.Add(timeout), timeout/8)
}

// move sets the deadline to want, unless the one in force has not passed
// and is within slack of it.
func (d *deadline) move(c net.Conn, now, want time.Time, slack time.Duration) {
	if !d.at.IsZero() && !d.at.Before(now) {
		if diff := want.Sub(d.at); -slack <= diff && diff <= slack {
			return
		}
	}
	d.set(c, want)
}

// moveUpTo sets the deadline to want, unless the one in force has not
// passed and falls before want by at most an eighth of the time left:
// consecutive requests' route timeouts then do not reset a timer each. It
// reports whether the deadline in force is before want; when that one
// fires, the owner must set want ([timeouts.refire]) and go on.
func (d *deadline) moveUpTo(c net.Conn, now, want time.Time) bool {
	if d.at.After(now) && !d.at.After(want) && want.Sub(d.at) <= want.Sub(now)/8 {
		return d.at.Before(want)
	}
	d.set(c, want)
	return false
}

// clear removes the deadline.
func (d *deadline) clear(c net.Conn) {
	if !d.at.IsZero() {
		d.set(c, time.Time{})
	}
}

func (d *deadline) set(c net.Conn, at time.Time) {
	if d.write {
		c.SetWriteDeadline(at)
	} else {
		c.SetReadDeadline(at)
	}
	d.at = at
}

// timeouts bound the reads of a reader while it is timed: each read must
// return within idle, and none may end after hard. Zero values disable
// either bound. A reader that is not timed leaves the deadline to its
// owner (a session waiting for a request sets its own).
type timeouts struct {
	timed bool
	idle  time.Duration
	hard  time.Time
	dl    deadline
	// early: the deadline in force is before hard ([deadline.moveUpTo]).
	early bool
}

// arm sets the read deadline on c for the next read.
func (t *timeouts) arm(c net.Conn) {
	if t.idle <= 0 && t.hard.IsZero() {
		t.dl.clear(c)
		return
	}
	now := t.dl.now()
	if t.hard.IsZero() || (t.idle > 0 && now.Add(t.idle).Before(t.hard)) {
		t.early = false
		t.dl.move(c, now, now.Add(t.idle), t.idle/8)
		return
	}
	t.early = t.dl.moveUpTo(c, now, t.hard)
}

// refire reports whether err is an early deadline's ([deadline.moveUpTo])
// rather than the hard bound's; it then sets the hard bound, so the read
// can be tried again.
func (t *timeouts) refire(c net.Conn, err error) bool {
	if !t.early || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	t.early = false
	t.dl.set(c, t.hard)
	return true
}

// set makes the reader timed with the given bounds.
func (t *timeouts) set(idle time.Duration, hard time.Time) {
	t.timed, t.idle, t.hard = true, idle, hard
}

// resume makes the reader timed again, or not, after a wait that set its
// own deadline.
func (t *timeouts) resume(timed bool) { t.timed = timed }
