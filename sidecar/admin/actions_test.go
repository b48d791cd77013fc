package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar"
	"github.com/meshlb/meshlb/sidecar/config"
)

func post(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestAdminActions: mutating endpoints answer only POST, and each does
// what Envoy's does.
func TestAdminActions(t *testing.T) {
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(statsSet("127.0.0.1:9")); err != nil {
		t.Fatal(err)
	}
	var lv slog.LevelVar
	quit := make(chan struct{}, 1)
	h := Handler(sc, WithLogLevel(&lv), WithQuit(func() { quit <- struct{}{} }))
	for _, p := range []string{"/healthcheck/fail", "/healthcheck/ok", "/quitquitquit", "/endpoint/drain", "/endpoint/disable", "/endpoint/enable"} {
		if code, _ := get(t, h, p); code != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405", p, code)
		}
	}
	steps := []struct {
		method, path string
		wantCode     int
		want         string
	}{
		{"GET", "/ready", 200, "LIVE"},
		{"POST", "/healthcheck/fail", 200, "OK"},
		{"GET", "/ready", 503, "DRAINING"},
		{"GET", "/stats?filter=server.live", 200, "server.live: 0"},
		{"POST", "/healthcheck/ok", 200, "OK"},
		{"GET", "/ready", 200, "LIVE"},
		{"POST", "/logging?level=debug", 200, "default: debug"},
		{"POST", "/logging?level=loud", 400, "level:"},
		{"GET", "/logging", 200, "default: debug"},
		{"POST", "/endpoint/drain?cluster=be&address=127.0.0.1:9", 200, "be::127.0.0.1:9::drain"},
		{"GET", "/clusters", 200, "be::127.0.0.1:9::health_flags::/admin_drain"},
		{"GET", "/clusters?format=json", 200, `"meshlb_admin_state": "drain"`},
		{"GET", "/stats?filter=membership_healthy", 200, "cluster.be.membership_healthy: 0"},
		{"POST", "/endpoint/enable?cluster=be&address=127.0.0.1:9", 200, "ready"},
		{"GET", "/clusters", 200, "be::127.0.0.1:9::health_flags::healthy"},
		{"POST", "/endpoint/disable?cluster=nope&address=127.0.0.1:9", 404, "not found"},
		{"POST", "/endpoint/disable?cluster=be&address=127.0.0.1:1", 404, "no endpoint"},
		{"GET", "/listeners", 200, "web::127.0.0.1:"},
		{"GET", "/listeners?format=json", 200, `"listener_statuses"`},
		{"GET", "/memory", 200, `"allocated"`},
		{"GET", "/runtime", 200, `"entries"`},
		{"POST", "/quitquitquit", 200, "OK"},
	}
	for _, s := range steps {
		code, body := get(t, h, s.path)
		if s.method == "POST" {
			code, body = post(t, h, s.path)
		}
		if code != s.wantCode || !strings.Contains(body, s.want) {
			t.Errorf("%s %s = %d %q, want %d with %q", s.method, s.path, code, body, s.wantCode, s.want)
		}
	}
	if lv.Level() != slog.LevelDebug {
		t.Errorf("level = %v, want debug", lv.Level())
	}
	select {
	case <-quit:
	default:
		t.Error("/quitquitquit did not call the quit hook")
	}
	_, body := get(t, h, "/clusters?format=json")
	var cs struct {
		ClusterStatuses []struct {
			Name         string `json:"name"`
			HostStatuses []struct {
				Weight int `json:"weight"`
			} `json:"host_statuses"`
		} `json:"cluster_statuses"`
	}
	if err := json.Unmarshal([]byte(body), &cs); err != nil || len(cs.ClusterStatuses) != 1 || cs.ClusterStatuses[0].HostStatuses[0].Weight != 1 {
		t.Errorf("/clusters?format=json = %v %s", err, body)
	}
}

// TestDrainEndpointUnderLoad drains one of two endpoints while four
// clients send requests: no request fails, and the drained endpoint gets
// no request that started a second after the drain.
func TestDrainEndpointUnderLoad(t *testing.T) {
	var mu sync.Mutex
	hits := map[string][]time.Time{}
	backend := func(name string) string {
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name] = append(hits[name], time.Now())
			mu.Unlock()
		}))
		t.Cleanup(be.Close)
		return be.Listener.Addr().String()
	}
	a, b := backend("a"), backend("b")
	set := statsSet(a)
	set.Clusters[0].Static.Endpoints = append(set.Clusters[0].Static.Endpoints, config.Endpoint{Address: b, Weight: 1})
	sc := sidecar.New(slog.New(slog.DiscardHandler))
	defer sc.Close(time.Second)
	if err := sc.Apply(set); err != nil {
		t.Fatal(err)
	}
	h := Handler(sc)
	url := "http://" + sc.Addresses()["web"] + "/ok"
	ctx, cancel := context.WithCancel(context.Background())
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			for ctx.Err() == nil {
				resp, err := c.Get(url)
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	waitHits := func(name string, n int) {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := len(hits[name])
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s got %d requests, want %d", name, got, n)
			}
		}
	}
	waitHits("a", 20)
	waitHits("b", 20)
	if code, body := post(t, h, "/endpoint/drain?cluster=be&address="+a); code != 200 {
		t.Fatalf("drain: %d %s", code, body)
	}
	drained := time.Now()
	mu.Lock()
	nb := len(hits["b"])
	mu.Unlock()
	waitHits("b", nb+50) // load goes on after the drain
	for time.Since(drained) < 1200*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	var late int
	for _, at := range hits["a"] {
		if at.After(drained.Add(time.Second)) {
			late++
		}
	}
	if failed.Load() != 0 || late != 0 {
		t.Errorf("%d of %d requests failed, %d reached the drained endpoint over 1 s after the drain; want 0 and 0", failed.Load(), sent.Load(), late)
	}
	var soon int
	for _, at := range hits["a"] {
		if at.After(drained.Add(50 * time.Millisecond)) {
			soon++
		}
	}
	t.Logf("%d requests sent, a got %d (%d over 50 ms after the drain), b %d", sent.Load(), len(hits["a"]), soon, len(hits["b"]))
}
