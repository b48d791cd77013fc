package sidecar

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/config"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/transport/transporttest"
)

// idleClient opens argv[1] connections to argv[2] (TLS if argv[3] is
// "true"), sends one request
// on each and reads its answer, prints "ready", and keeps them open until
// its stdin closes.
const idleClient = `
import resource, socket, ssl, sys
h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
n, host, port = int(sys.argv[1]), sys.argv[2].rsplit(":", 1)[0], int(sys.argv[2].rsplit(":", 1)[1])
ctx = ssl._create_unverified_context()
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
// the parker and with a goroutine per connection, beside plaintext. It runs only with
// MESHLB_IDLE_TLS=<connections>, and needs python3.
func TestMeasureIdleTLSMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MESHLB_IDLE_TLS"))
	if n <= 0 {
		t.Skip("set MESHLB_IDLE_TLS=<connections> to measure")
	}
	for _, tt := range []struct{ tls, parked bool }{{true, true}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("tls=%v,parked=%v", tt.tls, tt.parked), func(t *testing.T) {
			per, goroutines := measureIdle(t, n, tt.tls, tt.parked)
			t.Logf("%d idle connections, tls=%v parked=%v: %.0f bytes each (heap+stack), %.2f goroutines each",
				n, tt.tls, tt.parked, per, goroutines)
		})
	}
}

func measureIdle(t *testing.T, n int, useTLS, parked bool) (perConn, goroutinesPerConn float64) {
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
	if !useTLS {
		l.FilterChains[0].TLS = nil
	}
	if err := s.Apply(&config.Set{Listeners: []config.Listener{l}}); err != nil {
		t.Fatal(err)
	}
	before, g0 := heapAndStacks()
	script := filepath.Join(t.TempDir(), "client.py")
	os.WriteFile(script, []byte(idleClient), 0o600)
	cmd := exec.Command("python3", script, strconv.Itoa(n), addr, strconv.FormatBool(useTLS))
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
	return float64(after-before) / float64(n), float64(g1-g0) / float64(n)
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
