package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/loopback"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 20 * time.Second

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// The kernel may hand a closed port out again: never give one
		// twice in this process (Consul refused two upstreams on one).
		handedMu.Lock()
		dup := handed[port]
		handed[port] = true
		handedMu.Unlock()
		if !dup {
			return port
		}
	}
}

// handed holds the ports freePort has returned.
var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

// syncBuffer is a bytes.Buffer safe for a process to write while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a running meshlb process with its captured log.
type process struct {
	cmd *exec.Cmd
	log *syncBuffer
}

// start runs meshlb with args; the process is stopped (SIGTERM, then
// SIGKILL) when the test ends, and its log printed if the test failed.
func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(meshlbBin, args...), log: &syncBuffer{}}
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

func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// eventually polls cond every 20ms until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	return eventuallyWithin(t, waitTimeout, what, cond)
}

// eventuallyWithin is [eventually] with its own bound, for a wait whose
// length a component outside the test decides.
func eventuallyWithin(t *testing.T, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", bound, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Since(start)
}

func httpGet(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func waitReady(t *testing.T, adminPort int) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/ready", adminPort)
	eventually(t, url, func() bool {
		code, _, err := httpGet(http.DefaultClient, url)
		return err == nil && code == 200
	})
}

// backend is an HTTP server that names itself and counts its requests;
// it keeps the x-forwarded-client-cert header of the last one.
type backend struct {
	name  string
	port  int
	hits  atomic.Int64
	xfcc  atomic.Pointer[string]
	srv   *http.Server
	ln    net.Listener
	close sync.Once
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	return startStatusBackend(t, name, http.StatusOK)
}

// startStatusBackend is [startBackend] answering with status code.
func startStatusBackend(t *testing.T, name string, code int) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, port: ln.Addr().(*net.TCPAddr).Port, ln: ln}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		xfcc := r.Header.Get("X-Forwarded-Client-Cert")
		b.xfcc.Store(&xfcc)
		w.WriteHeader(code)
		io.WriteString(w, name)
	})}
	go b.srv.Serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) stop() { b.close.Do(func() { b.srv.Close() }) }

// echo is a TCP server that echoes lines.
func startEcho(t *testing.T) int {
	t.Helper()
	ln := loopback.Listen(t)
	loopback.Serve(t, ln, loopback.EchoConn)
	return ln.Addr().(*net.TCPAddr).Port
}

// writeFile replaces path's content atomically, as editors and config
// management tools do.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// load sends requests in a loop from several goroutines until stopped, and
// counts failures (transport errors or non-200 answers).
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
}

func startLoad(url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			for n := 0; n < 200000; n++ {
				select {
				case <-l.stop:
					return
				default:
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

func (l *load) finish() (ok, fail int64, errs []string) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.fail.Load(), l.errs
}

// runMeshlb runs meshlb to completion and returns its combined output.
func runMeshlb(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, meshlbBin, args...).CombinedOutput()
	return string(out), err
}
