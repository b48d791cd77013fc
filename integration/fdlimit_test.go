package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// openFDs counts the open file descriptors of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// flood opens n client connections at once, each sending one request to
// url's path on addr, and returns the count of each status (0 for a
// transport error).
func flood(addr, path string, n int) map[int]int {
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := 0
			if c, err := net.DialTimeout("tcp", addr, 10*time.Second); err == nil {
				c.SetDeadline(time.Now().Add(30 * time.Second))
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
				if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
					code = resp.StatusCode
					resp.Body.Close()
				}
				c.Close()
			}
			mu.Lock()
			got[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// With RLIMIT_NOFILE at 256, a flood of 600 client connections used to
// exhaust the descriptors, so upstream dials failed with 502. The sidecar
// now stops accepting at a bound derived from the limit, every request
// succeeds, and once pooled connections pass their idle_timeout the open
// descriptors are back to where they were.
func TestFDLimitFloodNo502(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit (util-linux) is needed to run meshlb with a low RLIMIT_NOFILE")
	}
	be := startSlowBackend(t, 20*time.Millisecond)
	b := staticBootstrap{adminPort: freePort(t), httpPort: freePort(t), routeTimeout: "15s", backends: []int{be.port},
		clusterExtra: "    common_http_protocol_options: { idle_timeout: 1s }\n"}
	p := startCmd(t, "sidecar", exec.Command(prlimit, "--nofile=256:256", meshlbBin, "sidecar", "--config", b.write(t)))
	waitReady(t, b.adminPort)
	web := fmt.Sprintf("127.0.0.1:%d", b.httpPort)
	flood(web, "/", 1)
	pid := p.cmd.Process.Pid
	// prlimit execs meshlb, so the pid is meshlb's.
	clusters := fmt.Sprintf("http://127.0.0.1:%d/clusters", b.adminPort)
	noIdle := func() bool {
		_, body, err := httpGet(http.DefaultClient, clusters)
		return err == nil && strings.Contains(body, "::idle_connections::0\n")
	}
	eventually(t, "the warm-up connection closed by idle_timeout", noIdle)
	base := openFDs(t, pid)
	got := flood(web, "/slow", 600)
	if got[200] != 600 {
		t.Errorf("statuses of 600 requests: %v, want all 200", got)
	}
	eventually(t, "open fds back to the baseline", func() bool { return noIdle() && openFDs(t, pid) <= base })
}
