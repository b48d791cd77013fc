//go:build unix

package peek

import (
	"io"
	"net"
	"testing"
)

// TestUntil peeks until enough bytes have come, and leaves them to be read.
func TestUntil(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	client.Write([]byte("ab"))
	go func() { client.Write([]byte("cd")) }()
	buf := make([]byte, 8)
	n, err := Until(server, buf, func(b []byte) bool { return len(b) < 4 })
	if err != nil || string(buf[:n]) != "abcd" {
		t.Fatalf("Until = %q, %v; want \"abcd\"", buf[:n], err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "abcd" {
		t.Fatalf("read after the peek: %q, %v", got, err)
	}
	client.Close()
	if n, err := Until(server, buf, func([]byte) bool { return true }); err != io.EOF {
		t.Fatalf("Until after the client closed = %d, %v; want io.EOF", n, err)
	}
	if _, err := Until(&net.TCPConn{}, buf, nil); err == nil {
		t.Fatal("Until on a connection without a socket succeeded")
	}
}
