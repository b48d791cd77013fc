package sidecar

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// idleClient opens argv[1] connections to argv[2] (TLS if argv[3] is
// "true", presenting the certificate and key files argv[4] and argv[5]
// when given: mTLS), sends one request on each and reads its answer,
// prints "ready", and keeps them open until its stdin closes.
const idleClient = `
import resource, socket, ssl, sys
h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
n, host, port = int(sys.argv[1]), sys.argv[2].rsplit(":", 1)[0], int(sys.argv[2].rsplit(":", 1)[1])
ctx = ssl._create_unverified_context()
if len(sys.argv) > 5:
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
conns = []
for _ in range(n):
    s = socket.create_connection((host, port))
    if sys.argv[3] == "true":
        s = ctx.wrap_socket(s, server_hostname="api")
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    conns.append(s)
print("ready", flush=True)
sys.stdin.read()
`

// TestMeasureIdleTLSMemory reports the Go heap and stacks the sidecar
// holds per idle TLS keep-alive connection (after one request each), with
// the parker and with a goroutine per connection, for mTLS (a client
// certificate, required and verified, as Consul's public listeners), TLS
// and plaintext. It runs only with MESHLB_IDLE_TLS=<connections>, and
// needs python3. With MESHLB_IDLE_TLS_PROFILE=<dir> it writes a heap
// profile of each case, taken with the connections idle, into dir
// (`go tool pprof -sample_index=inuse_space -top`).
func TestMeasureIdleTLSMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MESHLB_IDLE_TLS"))
	if n <= 0 {
		t.Skip("set MESHLB_IDLE_TLS=<connections> to measure")
	}
	if os.Getenv("MESHLB_IDLE_TLS_PROFILE") != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1 // every allocation, for a breakdown to the byte
	}
	for _, tt := range []idleCase{{true, true, true}, {true, false, true}, {true, true, false}, {false, false, true}} {
		t.Run(tt.String(), func(t *testing.T) {
			per, goroutines := measureIdle(t, n, tt)
			t.Logf("%d idle connections, %s: %.0f bytes each (heap+stack), %.2f goroutines each", n, tt, per, goroutines)
		})
	}
}

// idleCase is a kind of idle connection TestMeasureIdleTLSMemory holds.
type idleCase struct{ tls, mtls, parked bool }

func (c idleCase) String() string {
	return fmt.Sprintf("tls=%v,mtls=%v,parked=%v", c.tls, c.mtls, c.parked)
}

func measureIdle(t *testing.T, n int, c idleCase) (perConn, goroutinesPerConn float64) {
	useTLS, parked := c.tls, c.parked
	s := newSidecar(t)
	if p := s.parker; p != nil && !parked {
		s.parker = nil
		t.Cleanup(p.Close)
	} else if p != nil {
		p.After = 100 * time.Millisecond
	}
	ca := transporttest.NewCA(t, "mesh")
	addr := freeAddr(t)
	l := config.Listener{Name: "in", Address: addr, FilterChains: []config.FilterChain{{
		TLS: &spec.DownstreamTLS{TLSCommon: spec.TLSCommon{Certificates: certOf(ca.Leaf(t, apiSPIFFE, "api")),
			MinVersion: spec.TLS12, MaxVersion: spec.TLS13}},
		HTTP: &config.HTTPManager{StatPrefix: "in", StreamIdleTimeout: time.Hour, Routes: &config.RouteConfig{Name: "in",
			VirtualHosts: []config.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []config.Route{{
				Match:  config.RouteMatch{Kind: config.PathPrefix, Path: "/"},
				Direct: &config.DirectResponse{Status: 200, Body: "ok"}}}}}}}}}}
	var clientArgs []string
	switch {
	case !useTLS:
		l.FilterChains[0].TLS = nil
	case c.mtls:
		dtls := l.FilterChains[0].TLS
		dtls.RequireClientCert = true
		dtls.Validation = &spec.Validation{TrustedCA: ca.PEM, SubjectAltNames: spiffeSAN(webSPIFFE)}
		leaf := ca.Leaf(t, webSPIFFE, "web")
		dir := t.TempDir()
		clientArgs = []string{filepath.Join(dir, "web.pem"), filepath.Join(dir, "web.key")}
		os.WriteFile(clientArgs[0], leaf.Cert, 0o600)
		os.WriteFile(clientArgs[1], leaf.Key, 0o600)
	}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{l}}); err != nil {
		t.Fatal(err)
	}
	before, g0 := heapAndStacks()
	script := filepath.Join(t.TempDir(), "client.py")
	os.WriteFile(script, []byte(idleClient), 0o600)
	cmd := exec.Command("python3", append([]string{script, strconv.Itoa(n), addr, strconv.FormatBool(useTLS)}, clientArgs...)...)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("client: %q, %v", line, err)
	}
	time.Sleep(time.Second) // the parker takes connections quiet for 100ms
	after, g1 := heapAndStacks()
	if dir := os.Getenv("MESHLB_IDLE_TLS_PROFILE"); dir != "" {
		writeHeapProfile(t, filepath.Join(dir, strings.NewReplacer("=", "-", ",", "_").Replace(c.String())+".heap"))
	}
	return float64(after-before) / float64(n), float64(g1-g0) / float64(n)
}

// writeHeapProfile writes the heap profile (after a collection) to path.
func writeHeapProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}

// heapAndStacks returns the bytes of heap in use and of goroutine stacks,
// after a collection, and the number of goroutines.
func heapAndStacks() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, runtime.NumGoroutine()
}
