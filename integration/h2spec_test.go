package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// h2specBin finds the h2spec conformance tester, or fails the test saying
// how to install it (.ci/run does).
func h2specBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "h2spec")
		if isExecutable(p) {
			return p
		}
	}
	t.Fatal("h2spec not found: go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible")
	return ""
}

// h2Bootstrap is a sidecar with one HTTP listener of codec_type codec
// routing everything to a backend on port be.
func h2Bootstrap(t *testing.T, adminPort, httpPort, be int, codec string) string {
	t.Helper()
	return h2BootstrapTLS(t, adminPort, httpPort, be, codec, "")
}

// h2BootstrapTLS is [h2Bootstrap] with transportSocket (YAML indented for
// a filter chain's fields; "": plaintext) on the listener's chain.
func h2BootstrapTLS(t *testing.T, adminPort, httpPort, be int, codec, transportSocket string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	yaml := fmt.Sprintf(`node: { id: h2, cluster: h2 }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: %d } }
static_resources:
  listeners:
  - name: h2c
    address: { socket_address: { address: 127.0.0.1, port_value: %d } }
    filter_chains:
    - %sfilters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: h2c
          codec_type: %s
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: be }
          http_filters:
          - name: router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: be
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: be
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }
`, adminPort, httpPort, transportSocket, codec, be)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// kiloBackend answers 200 with a 2 KiB body to anything.
func kiloBackend(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("0123456789abcdef", 128)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)
	h2specFailure = regexp.MustCompile(`(?m)^\s*× (\d+: .*)$`)
)

// h2specKnown are the h2spec cases the sidecar fails: AUTO serves a
// connection with an invalid preface as HTTP/1.1, which answers it 400
// (3.5/2), as Envoy's AUTO does. Under HTTP2, and over TLS where ALPN
// decides, every case passes.
var h2specKnown = map[string][]string{
	"HTTP2": nil,
	"AUTO":  {"2: Sends invalid connection preface"},
}

// TestH2Spec runs h2spec's 145 HTTP/2 conformance cases against a real
// sidecar's h2c listener (codec_type HTTP2 and AUTO) and its TLS listener
// (codec_type AUTO, ALPN h2 and http/1.1; h2spec -t -k) whose upstream
// answers 200 with a 2 KiB body: none is skipped, and every case passes
// but the known ones (h2specKnown), which must fail exactly as listed so
// a new failure, or a fix, shows. Over TLS the connection is
// HTTP/2 by ALPN, so an invalid preface is refused as under HTTP2: the
// TLS run passes exactly as many cases as the h2c HTTP2 run.
func TestH2Spec(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin := h2specBin(t)
	be := kiloBackend(t)
	tlsSocket := downstreamTLSSocket(t, "h2", "http/1.1")
	for _, tc := range []struct{ name, codec, socket, known string }{
		{"HTTP2", "HTTP2", "", "HTTP2"},
		{"AUTO", "AUTO", "", "AUTO"},
		{"TLS", "AUTO", tlsSocket, "HTTP2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adminPort, httpPort := freePort(t), freePort(t)
			start(t, "sidecar", "sidecar", "--config", h2BootstrapTLS(t, adminPort, httpPort, be, tc.codec, tc.socket))
			waitReady(t, adminPort)
			args := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(httpPort), "-o", "5"}
			if tc.socket != "" {
				args = append(args, "-t", "-k")
			}
			checkH2Spec(t, bin, args, h2specKnown[tc.known])
		})
	}
}

// checkH2Spec runs h2spec with args and checks that exactly the known
// cases fail and none is skipped.
func checkH2Spec(t *testing.T, bin string, args, known []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	want := fmt.Sprintf("145 tests, %d passed, 0 skipped, %d failed", 145-len(known), len(known))
	if m := h2specSummary.FindString(string(out)); m != want {
		t.Errorf("h2spec: %q, want %q\n%s", m, want, out)
	}
	// The failures are listed twice: as they run and in the summary.
	var failed []string
	if i := strings.Index(string(out), "Failures:"); i >= 0 {
		for _, m := range h2specFailure.FindAllStringSubmatch(string(out)[i:], -1) {
			failed = append(failed, strings.TrimSpace(m[1]))
		}
	}
	if diff := cmp.Diff(known, failed); diff != "" {
		t.Errorf("h2spec failures (-known +got):\n%s", diff)
	}
}
