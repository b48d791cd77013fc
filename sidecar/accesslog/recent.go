package accesslog

import (
	"bytes"
	"sync"
)

// recentLen is how many lines [Recent] keeps.
const recentLen = 256

// recent is a ring of the last lines the file sinks wrote, for Recent.
// The sinks' goroutines fill it, off the request path.
var recent struct {
	mu    sync.Mutex
	lines [recentLen][]byte // reused buffers
	next  int               // where the next line goes
	n     int               // lines held
}

// remember keeps a copy of line (without its trailing newline).
func remember(line []byte) {
	line = bytes.TrimRight(line, "\n")
	recent.mu.Lock()
	defer recent.mu.Unlock()
	r := &recent
	r.lines[r.next] = append(r.lines[r.next][:0], line...)
	r.next = (r.next + 1) % recentLen
	r.n = min(r.n+1, recentLen)
}

// Recent returns up to n of the last access log lines written by any
// file, stdout or stderr sink in the process, oldest first, without
// their trailing newlines (at most 256 are kept). It is read-only and
// safe for concurrent use, for dashboards; the lines are copies.
func Recent(n int) []string {
	recent.mu.Lock()
	defer recent.mu.Unlock()
	r := &recent
	n = min(max(n, 0), r.n)
	out := make([]string, 0, n)
	for i := n; i > 0; i-- {
		out = append(out, string(r.lines[(r.next-i+recentLen)%recentLen]))
	}
	return out
}
