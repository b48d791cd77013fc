package scale

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// control is a running `meshlb control` process with its captured log.
type control struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{} // closed once the process has exited
}

// syncBuffer is a bytes.Buffer safe for a process to write while a test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startControl runs `meshlb control` on services with args; it is killed
// when the test ends, and its log printed if the test failed.
func startControl(t *testing.T, services string, args ...string) *control {
	t.Helper()
	args = append([]string{"control", "--services", services, "--xds-addr", "127.0.0.1:0"}, args...)
	if hasAdmin(t) {
		args = append(args, "--admin", "127.0.0.1:0")
	}
	c := &control{cmd: exec.Command(meshlbBin, args...), log: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			log := c.log.String()
			if len(log) > 8000 {
				log = log[len(log)-8000:]
			}
			t.Logf("--- control log (tail) ---\n%s", log)
		}
	})
	return c
}

// hasAdmin reports whether meshlbBin's control command has --admin.
func hasAdmin(t *testing.T) bool {
	t.Helper()
	out, _ := exec.Command(meshlbBin, "control", "-h").CombinedOutput()
	return strings.Contains(string(out), "-admin")
}

// addr waits for the control server to log the address of its server
// (xDS or admin).
func (c *control) addr(t *testing.T, server string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="` + server + ` server listening" address=(\S+)`)
	var addr string
	poll(t, "the "+server+" address in the control log", 30*time.Second, func() bool {
		m := re.FindStringSubmatch(c.log.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// stat returns the value of the line "name: value" of the admin /stats;
// 0 without an admin server.
func (c *control) stat(t *testing.T, admin, name string) float64 {
	t.Helper()
	if admin == "" {
		return 0
	}
	resp, err := http.Get("http://" + admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("stat %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no stat %s in /stats", name)
	return 0
}

// profile fetches a CPU profile of d from the admin server into path.
func profile(admin string, d time.Duration, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// logTimes returns the times of the log lines with message msg that were
// logged at or after since, in order.
func (c *control) logTimes(msg string, since time.Time) []time.Time {
	var out []time.Time
	for _, line := range strings.Split(c.log.String(), "\n") {
		if !strings.Contains(line, `msg="`+msg+`"`) && !strings.Contains(line, "msg="+msg+" ") {
			continue
		}
		ts, ok := strings.CutPrefix(strings.Fields(line)[0], "time=")
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err == nil && !at.Before(since.Truncate(time.Millisecond)) {
			out = append(out, at)
		}
	}
	return out
}

// cpu returns the user+system CPU time the process has used.
func (c *control) cpu(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of the whole line.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// memory returns the process's resident set size and its peak, in MiB.
func (c *control) memory(t *testing.T) (rss, peak float64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// goroutines stops the process with SIGQUIT and counts the goroutines in
// the dump it prints (GOTRACEBACK=all). The process is gone afterwards.
func (c *control) goroutines(t *testing.T) int {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("control did not exit on SIGQUIT")
	}
	return strings.Count(c.log.String(), "\ngoroutine ")
}

// poll checks cond every 10ms until it holds, failing the test after d.
func poll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", d, what)
		case <-tick.C:
		}
	}
}
