package l7

import (
	"net"
	"time"
)

// deadline is the read or write deadline in force on a connection. It
// moves the deadline lazily: an idle timeout is moved only when the one in
// force would fire more than an eighth of the timeout early or late, so a
// busy keep-alive connection does not reset a timer on every request.
type deadline struct {
	at    time.Time
	write bool // a write deadline, else a read deadline
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
}

// arm sets the read deadline on c for the next read.
func (t *timeouts) arm(c net.Conn) {
	if t.idle <= 0 && t.hard.IsZero() {
		t.dl.clear(c)
		return
	}
	now := time.Now()
	if t.hard.IsZero() || (t.idle > 0 && now.Add(t.idle).Before(t.hard)) {
		t.dl.move(c, now, now.Add(t.idle), t.idle/8)
		return
	}
	t.dl.move(c, now, t.hard, 0)
}

// set makes the reader timed with the given bounds.
func (t *timeouts) set(idle time.Duration, hard time.Time) {
	t.timed, t.idle, t.hard = true, idle, hard
}

// resume makes the reader timed again, or not, after a wait that set its
// own deadline.
func (t *timeouts) resume(timed bool) { t.timed = timed }
