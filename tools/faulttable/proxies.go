package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// proxy is a load balancer under test in front of the backends.
type proxy interface {
	// url is where clients send requests.
	url() string
	// down reports whether the proxy has taken b out of rotation.
	down(b *backend) bool
	stop()
}

// pool is the backends of a scenario: primary ones, and a backup (HAProxy
// backup server, Envoy priority 1) or none.
type pool struct {
	primary []*backend
	backup  *backend
}

func (p pool) all() []*backend {
	if p.backup == nil {
		return p.primary
	}
	return append(append([]*backend(nil), p.primary...), p.backup)
}

// freePort returns a port nothing listens on now, for a proxy's
// listeners, which take their ports from their configuration.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// process is a proxy's process and its log.
type process struct {
	cmd *exec.Cmd
	log *os.File
}

func run(dir, name string, args ...string) (*process, error) {
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &process{cmd: cmd, log: log}, nil
}

func (p *process) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.log.Close()
}

// meshlb is a meshlb sidecar with a static Envoy bootstrap.
type meshlb struct {
	*process
	httpPort, adminPort int
	admin               *http.Client
}

func startMeshlb(bin, dir string, p pool) (proxy, error) {
	m := &meshlb{admin: &http.Client{Timeout: time.Second}}
	var err error
	if m.httpPort, err = freePort(); err != nil {
		return nil, err
	}
	if m.adminPort, err = freePort(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "envoy.yaml")
	if err := os.WriteFile(path, []byte(meshlbBootstrap(m.adminPort, m.httpPort, p)), 0o644); err != nil {
		return nil, err
	}
	if m.process, err = run(dir, bin, "sidecar", "--config", path); err != nil {
		return nil, err
	}
	if err := waitAnswer(fmt.Sprintf("http://127.0.0.1:%d/ready", m.adminPort), 10*time.Second); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

func (m *meshlb) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", m.httpPort) }

// down reads the endpoint's health flags in /clusters: anything but
// healthy (failed active check, outlier ejection).
func (m *meshlb) down(b *backend) bool {
	resp, err := m.admin.Get(fmt.Sprintf("http://127.0.0.1:%d/clusters", m.adminPort))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	prefix := "be::" + b.addr() + "::health_flags::"
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return v != "healthy"
		}
	}
	return false
}

// meshlbBootstrap is the sidecar's configuration: the same checks,
// retries and timeouts as haproxyConfig, in Envoy's terms.
func meshlbBootstrap(adminPort, httpPort int, p pool) string {
	eps := "      - lb_endpoints:\n"
	for _, b := range p.primary {
		eps += endpointYAML(b)
	}
	if p.backup != nil {
		eps += "      - priority: 1\n        lb_endpoints:\n" + endpointYAML(p.backup)
	}
	return fmt.Sprintf(`node: { id: faulttable, cluster: faulttable }
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
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  cluster: be
                  timeout: 5s
                  retry_policy:
                    retry_on: connect-failure,reset
                    num_retries: 2
                    per_try_timeout: 0.5s
                    retry_host_predicate:
                    - name: envoy.retry_host_predicates.previous_hosts
                      typed_config: { "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate }
                    host_selection_retry_max_attempts: 3
          http_filters:
          - name: router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: be
    type: STATIC
    connect_timeout: 1s
    health_checks:
    - timeout: 0.5s
      interval: 1s
      no_traffic_interval: 1s
      unhealthy_threshold: 2
      healthy_threshold: 2
      http_health_check: { path: /healthz }
    outlier_detection: { consecutive_5xx: 3, interval: 1s, base_ejection_time: 5s }
    load_assignment:
      cluster_name: be
      endpoints:
%s`, adminPort, httpPort, eps)
}

func endpointYAML(b *backend) string {
	return fmt.Sprintf("        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }\n", b.port)
}

// haproxy is HAProxy with checks every second, retries and redispatch.
type haproxy struct {
	*process
	port int
	sock string
}

func startHAProxy(dir string, p pool) (proxy, error) {
	h := &haproxy{sock: filepath.Join(dir, "haproxy.sock")}
	var err error
	if h.port, err = freePort(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(haproxyConfig(h.port, h.sock, p)), 0o644); err != nil {
		return nil, err
	}
	if h.process, err = run(dir, "haproxy", "-db", "-f", path); err != nil {
		return nil, err
	}
	if err := waitAnswer(h.url(), 10*time.Second); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

func (h *haproxy) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", h.port) }

// down reads the server's status in "show stat" on the stats socket:
// DOWN (also while it must pass rise checks to come back) or MAINT.
func (h *haproxy) down(b *backend) bool {
	c, err := net.DialTimeout("unix", h.sock, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	io.WriteString(c, "show stat\n")
	sc := bufio.NewScanner(c)
	status := -1
	for sc.Scan() {
		cols := strings.Split(sc.Text(), ",")
		if len(cols) > 0 && strings.HasPrefix(cols[0], "# pxname") {
			for i, name := range cols {
				if name == "status" {
					status = i
				}
			}
			continue
		}
		if status > 0 && len(cols) > status && cols[0] == "be" && cols[1] == b.name {
			return strings.HasPrefix(cols[status], "DOWN") || cols[status] == "MAINT"
		}
	}
	return false
}

// haproxyConfig is HAProxy 2.6 as an operator would set it up for the
// same behaviour: check inter 1s fall 2 rise 2 (timeout check 0.5s),
// retries 2 with option redispatch 1 (every retry to another server),
// retry-on connection failures, empty responses and response timeouts
// (timeout server 0.5s, the per-try timeout), a backup server.
func haproxyConfig(port int, sock string, p pool) string {
	var servers strings.Builder
	for _, b := range p.primary {
		fmt.Fprintf(&servers, "  server %s %s\n", b.name, b.addr())
	}
	if p.backup != nil {
		fmt.Fprintf(&servers, "  server %s %s backup\n", p.backup.name, p.backup.addr())
	}
	return fmt.Sprintf(`global
  maxconn 4096
  stats socket %s mode 600 level admin
defaults
  mode http
  option http-keep-alive
  timeout connect 1s
  timeout client 10s
  timeout server 500ms
  timeout check 500ms
  retries 2
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
frontend fe
  bind 127.0.0.1:%d
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /healthz
  default-server check inter 1s fall 2 rise 2
%s`, sock, port, servers.String())
}
