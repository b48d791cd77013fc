package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hcBackend is an HTTP backend that answers /healthz with 200 (503 when
// sick), counts the other requests, and can be killed (listener and connections closed) and
// restarted on the same port.
type hcBackend struct {
	name string
	port int
	hits atomic.Int64
	// sick makes /healthz answer 503 while other requests still succeed.
	sick atomic.Bool
	mu   sync.Mutex
	srv  *http.Server
}

func startHCBackend(t *testing.T, name string) *hcBackend {
	t.Helper()
	b := &hcBackend{name: name}
	b.listen(t, "127.0.0.1:0")
	t.Cleanup(b.kill)
	return b
}

func (b *hcBackend) listen(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b.port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			b.hits.Add(1)
		} else if b.sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, b.name)
	})}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

// kill closes the listener and every connection, as a crashed process's.
func (b *hcBackend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv.Close()
}

func (b *hcBackend) restart(t *testing.T) { b.listen(t, fmt.Sprintf("127.0.0.1:%d", b.port)) }

// paced sends idempotent GETs at a fixed total rate from a few workers
// until stopped, and counts successes and failures.
type paced struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
}

func startPaced(url string, rate, workers int) *paced {
	p := &paced{stop: make(chan struct{})}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	p.wg.Add(1)
	jobs := make(chan struct{})
	go func() {
		defer p.wg.Done()
		defer tick.Stop()
		defer close(jobs)
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				select {
				case jobs <- struct{}{}:
				case <-p.stop:
					return
				}
			}
		}
	}()
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			for range jobs {
				code, body, err := httpGet(c, url)
				if err == nil && code == 200 {
					p.ok.Add(1)
					continue
				}
				p.fail.Add(1)
				p.mu.Lock()
				p.errs = append(p.errs, fmt.Sprintf("%d %q %v", code, strings.TrimSpace(body), err))
				p.mu.Unlock()
			}
		}()
	}
	return p
}

func (p *paced) finish() (ok, fail int64, errs []string) {
	close(p.stop)
	p.wg.Wait()
	return p.ok.Load(), p.fail.Load(), p.errs
}

// endpointStat reads one per-endpoint value from the admin's /clusters.
func endpointStat(c *http.Client, adminPort int, addr, stat string) (string, error) {
	_, body, err := httpGet(c, fmt.Sprintf("http://127.0.0.1:%d/clusters", adminPort))
	if err != nil {
		return "", err
	}
	prefix := "be::" + addr + "::" + stat + "::"
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("/clusters has no %s", prefix)
}

// TestActiveHealthCheckKillAndRestart runs a sidecar with an HTTP health
// check (interval 1s, unhealthy_threshold 2, healthy_threshold 2) in front
// of 3 real backends under a paced load of GETs. One backend is killed:
// no client request may fail, the sidecar must stop trying it within 3 s
// of the kill, and /clusters must flag it /failed_active_hc. It is
// restarted on its port: it must be back in traffic within the healthy
// threshold (2 checks, 1 s apart).
func TestActiveHealthCheckKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	backends := []*hcBackend{startHCBackend(t, "a"), startHCBackend(t, "b"), startHCBackend(t, "c")}
	var ports []int
	for _, b := range backends {
		ports = append(ports, b.port)
	}
	// no_traffic_interval: 1s, or checks wait Envoy's 60s until the
	// cluster has made a connection.
	bs := staticBootstrap{adminPort: freePort(t), httpPort: freePort(t), backends: ports,
		routeTimeout: `5s, retry_policy: { retry_on: "reset,connect-failure", num_retries: 2 }`,
		clusterExtra: `    health_checks:
    - timeout: 0.5s
      interval: 1s
      no_traffic_interval: 1s
      initial_jitter: 0.5s
      unhealthy_threshold: 2
      healthy_threshold: 2
      http_health_check: { path: /healthz }
`}
	start(t, "sidecar", "sidecar", "--config", bs.write(t))
	waitReady(t, bs.adminPort)
	admin := &http.Client{Timeout: 2 * time.Second}
	dead := backends[1]
	deadAddr := fmt.Sprintf("127.0.0.1:%d", dead.port)
	for _, b := range backends {
		addr := fmt.Sprintf("127.0.0.1:%d", b.port)
		eventually(t, addr+" to pass its first check", func() bool {
			v, err := endpointStat(admin, bs.adminPort, addr, "health_flags")
			return err == nil && v == "healthy"
		})
	}

	const rate = 200
	ld := startPaced(fmt.Sprintf("http://127.0.0.1:%d/", bs.httpPort), rate, 8)
	time.Sleep(2 * time.Second) // steady traffic to all three
	if n := dead.hits.Load(); n == 0 {
		t.Fatalf("backend %s got no traffic before the kill", dead.name)
	}

	dead.kill()
	killed := time.Now()
	var flagged, lastAttempt time.Duration
	last := ""
	for time.Since(killed) < 6*time.Second {
		fails, err1 := endpointStat(admin, bs.adminPort, deadAddr, "cx_connect_fail")
		flags, err2 := endpointStat(admin, bs.adminPort, deadAddr, "health_flags")
		if err1 == nil && fails != last {
			last, lastAttempt = fails, time.Since(killed)
		}
		if err2 == nil && flags == "/failed_active_hc" && flagged == 0 {
			flagged = time.Since(killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("after the kill: flagged /failed_active_hc after %v; last connect attempt seen after %v (%s connect failures in all)",
		flagged, lastAttempt, last)
	if flagged == 0 || flagged > 3*time.Second {
		t.Errorf("flagged after %v, want within 3s", flagged)
	}
	if lastAttempt > 3*time.Second {
		t.Errorf("the sidecar still tried the dead backend %v after the kill, want none after 3s", lastAttempt)
	}

	before := dead.hits.Load()
	dead.restart(t)
	back := eventually(t, "the restarted backend to get traffic", func() bool { return dead.hits.Load() > before })
	time.Sleep(time.Second)
	ok, fail, errs := ld.finish()
	shares := make([]string, 0, len(backends))
	for _, b := range backends {
		shares = append(shares, b.name+"="+strconv.FormatInt(b.hits.Load(), 10))
	}
	t.Logf("restarted backend back in traffic after %v; load %d ok, %d failed at %d/s; hits %s",
		back, ok, fail, rate, strings.Join(shares, " "))
	if back > 3*time.Second {
		t.Errorf("back in traffic after %v, want within the healthy threshold (2 checks 1s apart, plus jitter)", back)
	}
	if fail > 0 || ok == 0 {
		t.Errorf("%d requests failed (want 0; %d ok): %v", fail, ok, errs[:min(len(errs), 5)])
	}
}
