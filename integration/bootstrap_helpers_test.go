package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// staticBootstrap is an Envoy bootstrap with an admin listener, one HTTP
// listener routing everything to cluster "be" (with the given route
// timeout, e.g. "0s"), and "be" on the given backend ports.
type staticBootstrap struct {
	adminPort, httpPort int
	routeTimeout        string
	backends            []int
	clusterExtra        string // YAML lines appended to the cluster, indented 4
	// priorities, when set, gives each backend's priority (by index),
	// from 0 up with none skipped.
	priorities []int
}

func (b staticBootstrap) yaml() string {
	var eps strings.Builder
	last := 0
	if b.priorities != nil {
		last = slices.Max(b.priorities)
	}
	for prio := 0; prio <= last; prio++ {
		if prio > 0 {
			fmt.Fprintf(&eps, "      - priority: %d\n        lb_endpoints:\n", prio)
		}
		for i, p := range b.backends {
			if b.priorities == nil || b.priorities[i] == prio {
				fmt.Fprintf(&eps, "        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }\n", p)
			}
		}
	}
	return fmt.Sprintf(`node: { id: limits, cluster: limits }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: %d } }
static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: %d } }
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: be, timeout: %s }
          http_filters:
          - name: router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: be
    type: STATIC
    connect_timeout: 1s
%s    load_assignment:
      cluster_name: be
      endpoints:
      - lb_endpoints:
%s`, b.adminPort, b.httpPort, b.routeTimeout, b.clusterExtra, eps.String())
}

// write puts the bootstrap in a file under t's temp dir and returns its path.
func (b staticBootstrap) write(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	if err := os.WriteFile(path, []byte(b.yaml()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// slowBackend answers /slow after delay, holds /hang until the test ends,
// and answers anything else at once. started counts requests received.
type slowBackend struct {
	port    int
	started atomic.Int64
}

func startSlowBackend(t *testing.T, delay time.Duration) *slowBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &slowBackend{port: ln.Addr().(*net.TCPAddr).Port}
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.started.Add(1)
		switch r.URL.Path {
		case "/slow":
			time.Sleep(delay)
		case "/hang":
			<-release
		}
		fmt.Fprint(w, "done")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { close(release); srv.Close() })
	return b
}

// exited returns a channel that yields the process's exit error once it
// has exited.
func (p *process) exited() <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.cmd.Wait() }()
	return ch
}

// startCmd runs cmd (a meshlb process, possibly under a wrapper that execs
// it) as start does.
func startCmd(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, log: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, p.log.String())
		}
	})
	return p
}
