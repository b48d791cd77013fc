// Package loopback holds the test servers meshlb's tests start on
// 127.0.0.1: a listener and an accept loop that cleans up after itself.
// It is imported only by tests.
package loopback

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
)

// Listen returns a TCP listener on 127.0.0.1 port 0, closed at cleanup.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Serve accepts on ln until ln is closed and runs handle for each
// connection in its own goroutine. handle owns c until it returns; Serve
// closes c after. At cleanup Serve cancels ctx, closes ln and every
// connection still open, and waits for the accept loop and every handler.
// It returns ln's address.
func Serve(t testing.TB, ln net.Listener, handle func(ctx context.Context, c net.Conn)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open = make(map[net.Conn]struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					c.Close()
					mu.Lock()
					delete(open, c)
					mu.Unlock()
				}()
				handle(ctx, c)
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Start is Serve on a new Listen listener.
func Start(t testing.TB, handle func(ctx context.Context, c net.Conn)) string {
	t.Helper()
	return Serve(t, Listen(t), handle)
}

// Echo starts a server that echoes every byte back until the client
// closes, and returns its address.
func Echo(t testing.TB) string {
	t.Helper()
	return Start(t, EchoConn)
}

// EchoConn is Echo's handler: it copies c to itself until the client
// closes.
func EchoConn(_ context.Context, c net.Conn) { io.Copy(c, c) }

// Hold is a handler that never answers: it keeps c open until cleanup,
// as a server that completes handshakes but is stopped.
func Hold(ctx context.Context, _ net.Conn) { <-ctx.Done() }
