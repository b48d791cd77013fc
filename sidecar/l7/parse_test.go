package l7

import (
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		method    string
		host      string
		path      string
		query     string
		length    int64
		chunked   bool
		close     bool
		upgrade   string
		headerCnt int
	}{
		{name: "simple", in: "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
			method: "GET", host: "x", path: "/a", query: "b=c", length: -1, headerCnt: 2},
		{name: "absolute form wins over Host", in: "GET http://origin:8080/p HTTP/1.1\r\nHost: other\r\n\r\n",
			method: "GET", host: "origin:8080", path: "/p", length: -1, headerCnt: 1},
		{name: "absolute form with query and no path", in: "GET http://origin?a=b HTTP/1.1\r\nHost: other\r\n\r\n",
			method: "GET", host: "origin", path: "/", query: "a=b", length: -1, headerCnt: 1},
		{name: "http/1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", method: "GET", host: "", path: "/", length: -1, close: true},
		{name: "http/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", method: "GET", host: "", path: "/", length: -1, headerCnt: 1},
		{name: "connection close", in: "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
			method: "POST", host: "x", path: "/u", length: 5, close: true, headerCnt: 3},
		{name: "chunked", in: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
			method: "POST", host: "x", path: "/", length: -1, chunked: true, headerCnt: 2},
		{name: "websocket", in: "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			method: "GET", host: "x", path: "/ws", length: -1, upgrade: "websocket", headerCnt: 3},
		{name: "h2c upgrade ignored", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
			method: "GET", host: "x", path: "/", length: -1, headerCnt: 4},
		{name: "ows trimmed", in: "GET / HTTP/1.1\r\nHost: \t x \t\r\n\r\n", method: "GET", host: "x", path: "/", length: -1, headerCnt: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h reqHead
			if err := parseRequest(&h, []byte(tc.in)); err != nil {
				t.Fatalf("parseRequest: %v", err)
			}
			got := []any{string(h.Method), string(h.Host), string(h.Path), string(h.Query), h.length, h.chunked, h.close, string(h.upgrade), len(h.Headers), h.size}
			want := []any{tc.method, tc.host, tc.path, tc.query, tc.length, tc.chunked, tc.close, tc.upgrade, tc.headerCnt, len(tc.in)}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d = %v, want %v (got %v)", i, got[i], want[i], got)
				}
			}
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	tests := []struct {
		name, in string
		code     int
	}{
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"cl and te", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"te then cl", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400},
		{"two te", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"te list", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"cl sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", 400},
		{"cl list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", 400},
		{"cl huge", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"te in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"nul in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400},
		{"space in name", "GET / HTTP/1.1\r\nHost: x\r\nX Y: a\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 505},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"connection names content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: Content-Length\r\n\r\n", 400},
		{"connection names transfer-encoding", "POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"empty authority", "GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"empty authority, no path", "GET http:// HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"userinfo", "GET http://evil@good/ HTTP/1.1\r\nHost: good\r\n\r\n", 400},
		{"connection names content-length, no body", "GET / HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\n\r\n", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h reqHead
			err := parseRequest(&h, []byte(tc.in))
			se, ok := err.(*statusError)
			if !ok || se.code != tc.code {
				t.Errorf("parseRequest(%q) = %v, want status %d", tc.in, err, tc.code)
			}
		})
	}
}

func TestParseIncomplete(t *testing.T) {
	full := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for i := range len(full) - 1 {
		var h reqHead
		if err := parseRequest(&h, []byte(full[:i])); err != errIncomplete {
			t.Fatalf("prefix %q: %v, want errIncomplete", full[:i], err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET http://h/p HTTP/1.0\r\nConnection: keep-alive, x-foo\r\nX-Foo: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h reqHead
		err := parseRequest(&h, b)
		if err != nil {
			return
		}
		if h.size > len(b) || h.chunked && h.length >= 0 || h.Host == nil && h.http11 {
			t.Fatalf("inconsistent head from %q: size %d chunked %v length %d", b, h.size, h.chunked, h.length)
		}
		if strings.ContainsAny(string(h.Path), " \r\n") {
			t.Fatalf("path with separators from %q", b)
		}
	})
}

func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("a;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, w := &reader{conn: &sliceConn{data: b}}, &writer{conn: &sliceConn{}}
		w.acquire()
		defer w.release()
		if err := copyChunked(w, rd); err == nil {
			w.flush()
			if out := w.conn.(*sliceConn).out; len(out) > len(b) {
				t.Fatalf("copied %d bytes from %d", len(out), len(b))
			}
		}
		rd.drop()
	})
}

func BenchmarkParseRequest(b *testing.B) {
	req := []byte("GET /api/v1/items?id=42 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: wrk/4.2\r\n" +
		"Accept: */*\r\nAccept-Encoding: gzip\r\nX-Request-Id: 6f1c2d3e\r\nConnection: keep-alive\r\n\r\n")
	var h reqHead
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if err := parseRequest(&h, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 25 Nov 2026 10:00:00 GMT\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n")
	var r respHead
	b.ReportAllocs()
	for b.Loop() {
		if err := parseResponse(&r, resp); err != nil {
			b.Fatal(err)
		}
	}
}
