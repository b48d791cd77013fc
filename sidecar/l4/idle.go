package l4

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// idleChecks is how many times per idle timeout a relay direction comes
// out of splice to look at the activity of the connection.
const idleChecks = 4

// activity tracks a relay's traffic in both directions for Envoy's
// tcp_proxy idle_timeout: the connection is idle only when neither
// direction moved a byte for the whole timeout.
type activity struct {
	idle     time.Duration
	last     atomic.Int64  // unix nanos of the last observed traffic
	reported chan struct{} // a direction has updated last (buffered, 1)
}

func newActivity(idle time.Duration) *activity {
	a := &activity{idle: idle, reported: make(chan struct{}, 1)}
	a.last.Store(time.Now().UnixNano())
	return a
}

func (a *activity) idleFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, a.last.Load()))
}

// copyIdle copies src to dst with the kernel's splice until EOF, an error,
// or idleness. Splice cannot report bytes as they move, so each direction
// copies under a read deadline of idle/idleChecks and notes whether bytes
// moved when the deadline ends the copy. A direction that finds the
// connection quiet for the whole timeout first interrupts the other
// direction's copy (peer is the socket it reads from) and waits for its
// report, so traffic the other way in its current window is not missed.
func copyIdle(dst, src, peer net.Conn, act *activity) (total int64) {
	step := act.idle / idleChecks
	for {
		src.SetReadDeadline(time.Now().Add(step))
		n, err := io.Copy(dst, src)
		total += n
		if n > 0 {
			act.last.Store(time.Now().UnixNano())
		}
		select {
		case act.reported <- struct{}{}:
		default:
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return total // EOF or a real error
		}
		if act.idleFor(time.Now()) < act.idle {
			continue
		}
		if act.confirmIdle(peer) {
			return total
		}
	}
}

// confirmIdle makes the other direction report and says whether the
// connection is still idle afterwards.
func (a *activity) confirmIdle(peer net.Conn) bool {
	select {
	case <-a.reported: // drop a stale report
	default:
	}
	peer.SetReadDeadline(time.Unix(1, 0))
	select {
	case <-a.reported:
	case <-time.After(time.Second): // the other direction has ended
	}
	return a.idleFor(time.Now()) >= a.idle
}
