package file

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// notifyMask is what a notifier watches for in a directory: a file written
// and closed, renamed in or out, removed, or its mode or link changed, and
// the directory itself removed or moved. Writes in progress (IN_MODIFY) are
// not events, so a file is not read half written.
const notifyMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE |
	unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// notifier reports changes in watched directories through inotify. It
// signals that something changed, not what: the watch then polls, which
// compares every file. Create it with newNotifier and release it with close.
type notifier struct {
	f      *os.File // the inotify descriptor, read through the runtime poller
	fd     int
	c      chan struct{}
	failed map[string]bool // directories whose watch failed, logged once
	wg     sync.WaitGroup
}

// newNotifier returns a notifier, or an error if inotify is unavailable.
func newNotifier() (*notifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	n := &notifier{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, c: make(chan struct{}, 1), failed: map[string]bool{}}
	n.wg.Go(n.read)
	return n, nil
}

// read turns each batch of events into one signal on c, coalescing them
// while the watch is busy, until the descriptor is closed.
func (n *notifier) read() {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		if _, err := n.f.Read(buf); err != nil {
			return
		}
		select {
		case n.c <- struct{}{}:
		default:
		}
	}
}

// events receives after directories changed.
func (n *notifier) events() <-chan struct{} { return n.c }

// watch watches dirs; watching one again is harmless, so the caller
// re-adds watches a replaced directory lost. A directory that cannot be
// watched is logged once and left to the safety poll.
func (n *notifier) watch(dirs []string, logger *slog.Logger) {
	failed := map[string]bool{}
	for _, d := range dirs {
		if _, err := unix.InotifyAddWatch(n.fd, d, notifyMask); err != nil {
			failed[d] = true
			if !n.failed[d] {
				logger.Warn("cannot watch services directory, polling it", "dir", d, "err", err)
			}
		}
	}
	n.failed = failed
}

// complete reports whether every directory last given to watch is watched.
func (n *notifier) complete() bool { return len(n.failed) == 0 }

// close stops the notifier and waits for its goroutine.
func (n *notifier) close() {
	n.f.Close()
	n.wg.Wait()
}
