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

// fakeConsul is a loopback HTTP server answering the queries the source
// makes, with blocking-query semantics: a request whose index equals the
// current one waits for a change or its wait time. Like Consul, it keeps
// the services table's index apart: a change of checks alone
// (updateChecks) leaves it; its nodes never change.
type fakeConsul struct {
	srv *httptest.Server

	mu       sync.Mutex
	index    uint64
	svcIndex uint64        // of the services table
	changed  chan struct{} // closed and replaced on every change
	failing  int           // HTTP status to answer with, 0: none
	services map[string][]*api.ServiceEntry
	requests int
	paths    map[string]int // requests by path
	inFlight int
	maxConns int // most requests in flight at once
}

func newFakeConsul(t *testing.T) *fakeConsul {
	f := &fakeConsul{index: 10, svcIndex: 10, changed: make(chan struct{}),
		services: map[string][]*api.ServiceEntry{}, paths: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.close)
	return f
}

func (f *fakeConsul) close() {
	f.update(func() {}) // wake blocked requests
	f.srv.Close()
}

// update changes the state under the lock and moves both indexes
// (change may set them). Instances that change get the new index as their
// ModifyIndex, as in Consul.
func (f *fakeConsul) update(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.svcIndex = f.index
	before := f.instances()
	change()
	for e, was := range f.instances() {
		if b, ok := before[e]; !ok || b != was {
			e.ModifyIndex = f.index
		}
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// instances returns every instance with its content (without its
// ModifyIndex) in JSON.
func (f *fakeConsul) instances() map[*api.AgentService]string {
	out := make(map[*api.AgentService]string)
	for _, entries := range f.services {
		for _, e := range entries {
			c := *e.Service
			c.ModifyIndex = 0
			b, _ := json.Marshal(c)
			out[e.Service] = string(b)
		}
	}
	return out
}

// updateChecks changes checks only: the services index stays.
func (f *fakeConsul) updateChecks(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	change()
	close(f.changed)
	f.changed = make(chan struct{})
}

// indexOf returns the index of the table path reads: the services table
// for the service list, a nodes table that never changes for the node
// list, the whole state otherwise.
func (f *fakeConsul) indexOf(path string) uint64 {
	switch path {
	case "/v1/catalog/services":
		return f.svcIndex
	case "/v1/catalog/nodes":
		return 10
	default:
		return f.index
	}
}

// count returns how many requests were made for path.
func (f *fakeConsul) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[path]
}

func (f *fakeConsul) serve(w http.ResponseWriter, r *http.Request) {
	idx, _ := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	f.mu.Lock()
	f.requests++
	f.paths[r.URL.Path]++
	f.inFlight++
	f.maxConns = max(f.maxConns, f.inFlight)
	current := f.indexOf(r.URL.Path)
	if idx != 0 && idx >= current && f.failing == 0 {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			f.mu.Lock()
			f.inFlight--
			f.mu.Unlock()
			return
		}
		f.mu.Lock()
		current = f.indexOf(r.URL.Path)
	}
	defer func() { f.inFlight--; f.mu.Unlock() }()
	if f.failing != 0 {
		http.Error(w, "failing as told", f.failing)
		return
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(current, 10))
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
	case path == "/v1/catalog/nodes":
		return f.nodes(dc)
	case path == "/v1/agent/self": // an agent without Connect
		return map[string]any{"DebugConfig": map[string]any{"ConnectEnabled": false}}
	case strings.HasPrefix(path, "/v1/catalog/node-services/"):
		return f.nodeServices(strings.TrimPrefix(path, "/v1/catalog/node-services/"), dc)
	case path == "/v1/health/state/any": // the only filter: not passing
		var out api.HealthChecks
		for _, entries := range f.services {
			for _, e := range entries {
				for _, c := range e.Checks {
					if c.Status == api.HealthPassing {
						continue
					}
					hc := &api.HealthCheck{Node: e.Node.Node, CheckID: c.CheckID, Status: c.Status}
					if c.CheckID != "serfHealth" { // else a node check
						hc.ServiceID, hc.ServiceName = e.Service.ID, e.Service.Service
					}
					out = append(out, hc)
				}
			}
		}
		return out
	default: // config entries
		return []any{}
	}
}

// inDC calls fn for every instance in datacenter dc ("": local).
func (f *fakeConsul) inDC(dc string, fn func(e *api.ServiceEntry)) {
	for name, entries := range f.services {
		_, in, remote := strings.Cut(name, "@")
		if remote && in == dc || !remote && dc == "" {
			for _, e := range entries {
				fn(e)
			}
		}
	}
}

func (f *fakeConsul) nodes(dc string) []*api.Node {
	seen := map[string]bool{}
	var out []*api.Node
	f.inDC(dc, func(e *api.ServiceEntry) {
		if !seen[e.Node.Node] {
			seen[e.Node.Node] = true
			out = append(out, e.Node)
		}
	})
	return out
}

func (f *fakeConsul) nodeServices(node, dc string) *api.CatalogNodeServiceList {
	out := &api.CatalogNodeServiceList{Node: &api.Node{Node: node}}
	f.inDC(dc, func(e *api.ServiceEntry) {
		if e.Node.Node == node {
			out.Services = append(out.Services, e.Service)
		}
	})
	return out
}

// instance returns a passing instance of service on node n1.
func instance(service, id, addr string, port int, status string) *api.ServiceEntry {
	return &api.ServiceEntry{
		Node:    &api.Node{Node: "n1", Address: "127.0.0.1", Datacenter: "dc1"},
		Service: &api.AgentService{ID: id, Service: service, Address: addr, Port: port},
		Checks:  api.HealthChecks{{CheckID: "c-" + id, Status: status}},
	}
}
