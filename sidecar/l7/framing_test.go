package l7

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// A response with both Content-Length and Transfer-Encoding reaches the
// client chunked, without Content-Length, and its upstream connection is
// not reused (issue 7, item 4).
func TestResponseWithLengthAndChunkedDropsLength(t *testing.T) {
	conns := make(chan struct{}, 8)
	up := rawServer(t, func(c net.Conn) {
		conns <- struct{}{}
		br := bufio.NewReader(c)
		for readHeadFrom(br) == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"3\r\nabc\r\n0\r\n\r\n")
		}
	})
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {up}})
	c, br := dialProxy(t, p.addr)
	for range 2 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		var head bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the response head: %v (so far %q)", err, head.String())
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		if h := strings.ToLower(head.String()); strings.Contains(h, "content-length") || !strings.Contains(h, "transfer-encoding: chunked") {
			t.Errorf("response head %q, want Transfer-Encoding: chunked and no Content-Length", head.String())
		}
		body := make([]byte, len("3\r\nabc\r\n0\r\n\r\n"))
		if _, err := io.ReadFull(br, body); err != nil || string(body) != "3\r\nabc\r\n0\r\n\r\n" {
			t.Errorf("body %q, %v", body, err)
		}
	}
	if n := len(conns); n != 2 {
		t.Errorf("upstream connections = %d, want 2 (none reused after such a response)", n)
	}
}

// Chunk-size lines follow RFC 9112 7.1 strictly: a line that is not a hex
// size with optional extensions gets 400 (issue 7, item 5).
func TestChunkSizeLines(t *testing.T) {
	rec := newRecorder(t)
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(rec.Server)}})
	tests := []struct {
		line string
		want int
	}{
		{"5", 200},
		{"5;ext", 200},
		{"5 ; a=1 ;b = \"q \\\" v\"", 200},
		{"5\t", 200},
		{"5 zz", 400},
		{"5;", 400},
		{"5;=x", 400},
		{"5;a=", 400},
		{"5;a=\"open", 400},
		{"5;a=b c", 400},
		{"0x5", 400},
		{" 5", 400},
		{"5,6", 400},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			c, br := dialProxy(t, p.addr)
			code, _ := roundTrip(t, c, br, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
				tc.line+"\r\nhello\r\n0\r\n\r\n")
			if code != tc.want {
				t.Errorf("chunk-size line %q: status %d, want %d", tc.line, code, tc.want)
			}
		})
	}
}

func TestChunkSize(t *testing.T) {
	tests := []struct {
		line string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"fF", 255, true}, {"10;name=\"v\\\\\"", 16, true}, {"1 ;x;y=z", 1, true},
		{"", 0, false}, {"g", 0, false}, {"1 2", 0, false}, {"fffffffffffffff0", 0, false},
		{"1;a=\"\x01\"", 0, false}, {"1;a=\"\\\x01\"", 0, false}, {"1;a\"", 0, false},
	}
	for _, tc := range tests {
		n, err := chunkSize([]byte(tc.line))
		if (err == nil) != tc.ok || tc.ok && n != tc.want {
			t.Errorf("chunkSize(%q) = %d, %v; want %d, ok %v", tc.line, n, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.0 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r respHead
		if err := parseResponse(&r, b); err != nil {
			return
		}
		if r.size > len(b) || r.status < 100 || r.status > 999 || r.chunked && r.length >= 0 {
			t.Fatalf("inconsistent head from %q: size %d status %d chunked %v length %d", b, r.size, r.status, r.chunked, r.length)
		}
		for _, f := range r.fields {
			name, _, ok := bytes.Cut(f, []byte(":"))
			if !ok || bytes.ContainsAny(f, "\r\n") || isHopByHop(name) || equalFold(name, "connection") ||
				r.chunked && equalFold(name, "content-length") {
				t.Fatalf("forwarded field %q from %q", f, b)
			}
		}
	})
}
