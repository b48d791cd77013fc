package sidecar

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
)

// TestMaxRequestsAdmitsExactlyN: with max_requests 5 and 8 concurrent
// requests to a backend that holds them, exactly 5 reach the backend and
// the other 3 get 503 with x-envoy-overloaded: true (issue 10).
func TestMaxRequestsAdmitsExactlyN(t *testing.T) {
	const limit, clients = 5, 8
	var reached atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		<-release
	}))
	defer be.Close()
	defer free()
	s := newSidecar(t)
	web := freeAddr(t)
	c := staticCluster("cb", strings.TrimPrefix(be.URL, "http://"))
	c.MaxRequests = limit
	if err := s.Apply(&config.Set{Listeners: []config.Listener{httpListener("web", web, "cb")}, Clusters: []config.Cluster{c}}); err != nil {
		t.Fatal(err)
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, shed   int
		overloaded int
	)
	rejected := make(chan struct{}, clients)
	for range clients {
		wg.Go(func() {
			cl := newClient()
			defer cl.CloseIdleConnections()
			code, _, over := do(t, cl, "http://"+web+"/")
			mu.Lock()
			defer mu.Unlock()
			switch code {
			case 200:
				ok++
			case 503:
				shed++
				if over == "true" {
					overloaded++
				}
				rejected <- struct{}{}
			}
		})
	}
	for range clients - limit {
		select {
		case <-rejected:
		case <-time.After(10 * time.Second):
			free()
			t.Fatalf("fewer than %d requests were shed in 10s (%d reached the backend)", clients-limit, reached.Load())
		}
	}
	waitOutlier(t, "5 requests at the backend", func() bool { return reached.Load() == limit })
	free()
	wg.Wait()
	if ok != limit || shed != clients-limit || overloaded != clients-limit || reached.Load() != limit {
		t.Errorf("%d ok, %d 503 (%d with x-envoy-overloaded), %d reached the backend; want %d, %d, %d, %d",
			ok, shed, overloaded, reached.Load(), limit, clients-limit, clients-limit, limit)
	}
}
