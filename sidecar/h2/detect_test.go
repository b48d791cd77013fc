package h2

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder is a terminal that notes its name and what the connection
// carried.
type recorder struct {
	name string
	got  chan [2]string
}

func (r *recorder) ServeConn(_ context.Context, c net.Conn) {
	defer c.Close()
	b, _ := io.ReadAll(c)
	r.got <- [2]string{r.name, string(b)}
}

// Auto hands a connection that opens with the HTTP/2 preface to the
// HTTP/2 codec and any other to HTTP/1, with every byte unread, whether
// it can peek at a socket or must read and replay (a connection wrapped
// by a network data filter).
func TestAuto(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"preface", []string{preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"}, "h2"},
		{"preface in pieces", []string{"PRI * HT", "TP/2.0\r\n\r\nSM", "\r\n\r\n"}, "h2"},
		{"http/1.1", []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, "h1"},
		{"PRI method over HTTP/1.1", []string{"PRI * HTTP/1.1\r\n\r\n"}, "h1"},
		{"one byte then close", []string{"P"}, "h1"},
		{"nothing", nil, "h1"},
	}
	for _, wrap := range []bool{false, true} {
		for _, tc := range tests {
			name := tc.name
			if wrap {
				name += ", no socket"
			}
			t.Run(name, func(t *testing.T) {
				got := make(chan [2]string, 1)
				a := &Auto{HTTP1: &recorder{"h1", got}, HTTP2: &recorder{"h2", got}, Wait: func() time.Duration { return 5 * time.Second }}
				client, server := tcpPair(t)
				if wrap {
					server = struct{ net.Conn }{server} // hides the socket
				}
				go func() {
					for _, w := range tc.writes {
						io.WriteString(client, w)
						time.Sleep(time.Millisecond)
					}
					client.(*net.TCPConn).CloseWrite()
				}()
				a.ServeConn(context.Background(), server)
				var all string
				for _, w := range tc.writes {
					all += w
				}
				if diff := cmp.Diff([2]string{tc.want, all}, <-got); diff != "" {
					t.Errorf("codec and bytes (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
