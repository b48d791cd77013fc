package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// serveBackend is the backend subcommand: an HTTP server on addr (port
// 0: any, printed on stdout as "port N") that answers every request with
// its name, until SIGTERM.
func serveBackend(name, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	})}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// backend is a backend process, run as this program's backend
// subcommand, that can be killed, stopped (SIGSTOP: it still accepts
// connections in the kernel's backlog, and answers nothing: a hang) and
// started again on its port.
type backend struct {
	name string
	port int
	cmd  *exec.Cmd
}

// startBackend starts the backend name on a port the kernel picks and
// waits until it answers.
func startBackend(name string) (*backend, error) {
	b := &backend{name: name}
	return b, b.start()
}

func (b *backend) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// start runs the process on b's port (the first time, any port) and
// waits until it answers.
func (b *backend) start() error {
	b.cmd = exec.Command(os.Args[0], "backend", b.name, b.addr())
	b.cmd.Stderr = os.Stderr
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("starting backend %s: %w", b.name, err)
	}
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("starting backend %s: %w", b.name, err)
	}
	if _, err := fmt.Fscanf(out, "port %d\n", &b.port); err != nil {
		b.kill()
		return fmt.Errorf("reading backend %s's port: %w", b.name, err)
	}
	return waitAnswer("http://"+b.addr()+"/healthz", 5*time.Second)
}

// kill sends SIGKILL and reaps the process.
func (b *backend) kill() {
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

// restart stops the process with SIGTERM and starts it again at once.
func (b *backend) restart() error {
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	return b.start()
}

func (b *backend) hang()   { b.cmd.Process.Signal(syscall.SIGSTOP) }
func (b *backend) resume() { b.cmd.Process.Signal(syscall.SIGCONT) }

// waitAnswer polls url until it answers 200, for at most bound.
func waitAnswer(url string, bound time.Duration) error {
	c := &http.Client{Timeout: 200 * time.Millisecond}
	defer c.CloseIdleConnections()
	for end := time.Now().Add(bound); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer 200 within %v", url, bound)
}
