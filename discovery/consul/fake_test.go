package consul

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// fakeConsul is a loopback HTTP server answering the three queries the
// source makes, with blocking-query semantics: a request whose index equals
// the current one waits for a change or its wait time.
type fakeConsul struct {
	srv *httptest.Server

	mu       sync.Mutex
	index    uint64
	changed  chan struct{} // closed and replaced on every change
	failing  bool
	services map[string][]*api.ServiceEntry
	requests int
}

func newFakeConsul(t *testing.T) *fakeConsul {
	f := &fakeConsul{index: 10, changed: make(chan struct{}), services: map[string][]*api.ServiceEntry{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.close)
	return f
}

func (f *fakeConsul) close() {
	f.update(func() {}) // wake blocked requests
	f.srv.Close()
}

// update changes the state under the lock and sets index (default: +1).
func (f *fakeConsul) update(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	change()
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeConsul) serve(w http.ResponseWriter, r *http.Request) {
	idx, _ := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	f.mu.Lock()
	f.requests++
	if idx != 0 && idx >= f.index && !f.failing {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if f.failing {
		http.Error(w, "rpc error: no leader", http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(f.index, 10))
	q := r.URL.Query()
	json.NewEncoder(w).Encode(f.body(r.URL.Path, q.Get("filter"), q.Get("dc")))
}

// body answers path; the only filter understood is proxyFilter. Services
// of another datacenter are keyed "name@dc" in f.services.
func (f *fakeConsul) body(path, filter, dc string) any {
	switch {
	case path == "/v1/catalog/services":
		out := map[string][]string{}
		for name, entries := range f.services {
			if strings.Contains(name, "@") {
				continue
			}
			if filter == "" || len(entries) > 0 && entries[0].Service.Kind == api.ServiceKindConnectProxy {
				out[name] = []string{}
			}
		}
		return out
	case strings.HasPrefix(path, "/v1/health/service/"):
		name := strings.TrimPrefix(path, "/v1/health/service/")
		if dc != "" {
			name += "@" + dc
		}
		return f.services[name]
	default: // config entries
		return []any{}
	}
}

// instance returns a passing instance of service on node n1.
func instance(service, id, addr string, port int, status string) *api.ServiceEntry {
	return &api.ServiceEntry{
		Node:    &api.Node{Node: "n1", Address: "127.0.0.1", Datacenter: "dc1"},
		Service: &api.AgentService{ID: id, Service: service, Address: addr, Port: port},
		Checks:  api.HealthChecks{{CheckID: "c-" + id, Status: status}},
	}
}
