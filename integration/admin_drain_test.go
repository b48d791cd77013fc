package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// timedBackend is an HTTP server that notes when each request reaches it.
type timedBackend struct {
	addr string
	mu   sync.Mutex
	at   []time.Time
}

func startTimedBackend(t *testing.T) *timedBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &timedBackend{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.at = append(b.at, time.Now())
		b.mu.Unlock()
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// count returns how many requests reached b after since.
func (b *timedBackend) count(since time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, at := range b.at {
		if at.After(since) {
			n++
		}
	}
	return n
}

// TestDrainEndpointUnderLoad (issue 13): a meshlb sidecar process
// balances bounded load (4 clients, each at most one request per 4 ms)
// over 3 backends; POST /endpoint/drain on its admin API drains one.
// No request fails, the drained backend gets no request that reaches it
// over 1 s after the drain, the other two take the load, and /clusters
// flags the endpoint /admin_drain.
func TestDrainEndpointUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sidecar")
	}
	var backends []*timedBackend
	var ports []int
	for range 3 {
		b := startTimedBackend(t)
		backends = append(backends, b)
		_, port, _ := net.SplitHostPort(b.addr)
		var p int
		fmt.Sscan(port, &p)
		ports = append(ports, p)
	}
	bs := staticBootstrap{adminPort: freePort(t), httpPort: freePort(t), routeTimeout: "5s", backends: ports}
	start(t, "sidecar", "sidecar", "--config", bs.write(t))
	waitReady(t, bs.adminPort)

	l := startPacedLoad(fmt.Sprintf("http://127.0.0.1:%d/", bs.httpPort), 4, 4*time.Millisecond)
	began := time.Now()
	eventually(t, "traffic on every backend", func() bool {
		return backends[0].count(began) >= 20 && backends[1].count(began) >= 20 && backends[2].count(began) >= 20
	})
	drain := fmt.Sprintf("http://127.0.0.1:%d/endpoint/drain?cluster=be&address=%s", bs.adminPort, backends[0].addr)
	resp, err := http.Post(drain, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s = %d", drain, resp.StatusCode)
	}
	drained := time.Now()
	eventually(t, "load after the drain", func() bool { return time.Since(drained) > 2*time.Second })
	ok, fail, errs := l.finish()

	late := backends[0].count(drained.Add(time.Second))
	soon := backends[0].count(drained) - late
	after := backends[1].count(drained) + backends[2].count(drained)
	t.Logf("%d requests ok, %d failed; after the drain the drained backend got %d (all within 1 s), the others %d", ok, fail, soon, after)
	if fail != 0 {
		t.Errorf("%d of %d requests failed: %v", fail, ok+fail, errs[:min(len(errs), 5)])
	}
	if late != 0 {
		t.Errorf("the drained backend got %d requests over 1 s after the drain, want 0", late)
	}
	if after < 100 {
		t.Errorf("the other backends got %d requests after the drain, want the load", after)
	}
	_, clusters, err := httpGet(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/clusters", bs.adminPort))
	if err != nil || !strings.Contains(clusters, "be::"+backends[0].addr+"::health_flags::/admin_drain") {
		t.Errorf("/clusters does not flag the drained endpoint (%v):\n%s", err, clusters)
	}
}

// startPacedLoad is startLoad with each worker sending at most one
// request per every.
func startPacedLoad(url string, workers int, every time.Duration) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				code, body, err := httpGet(c, url)
				if err == nil && code == 200 {
					l.ok.Add(1)
					continue
				}
				l.fail.Add(1)
				l.mu.Lock()
				l.errs = append(l.errs, fmt.Sprintf("%d %q %v", code, strings.TrimSpace(body), err))
				l.mu.Unlock()
			}
		}()
	}
	return l
}
