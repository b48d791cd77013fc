package filterchain

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// clientHello returns the first TLS record crypto/tls sends for sni and
// alpn.
func helloRecord(t testing.TB, sni string, alpn ...string) []byte {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(a, &tls.Config{ServerName: sni, NextProtos: alpn, InsecureSkipVerify: true}).Handshake()
	}()
	defer func() { a.Close(); b.Close(); <-done }()
	b.SetDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(head, body...)
}

func TestParseClientHello(t *testing.T) {
	rec := helloRecord(t, "WWW.Example.com", "h2", "http/1.1")
	type result struct {
		Status helloStatus
		SNI    string
		ALPN   []string
	}
	parse := func(b []byte) result {
		var h clientHello
		r := result{Status: parseClientHello(b, &h), SNI: string(h.serverName)}
		for _, p := range h.alpn {
			r.ALPN = append(r.ALPN, string(p))
		}
		return r
	}
	bad := append([]byte(nil), rec...)
	bad[5] = 2 // a ServerHello
	tests := []struct {
		name string
		in   []byte
		want result
	}{
		{"whole hello", rec, result{Status: helloOK, SNI: "WWW.Example.com", ALPN: []string{"h2", "http/1.1"}}},
		{"hello and more bytes", append(append([]byte(nil), rec...), 1, 2, 3), result{Status: helloOK, SNI: "WWW.Example.com", ALPN: []string{"h2", "http/1.1"}}},
		{"no sni or alpn", helloRecord(t, ""), result{Status: helloOK}},
		{"empty", nil, result{Status: helloNeedMore}},
		{"header only", rec[:5], result{Status: helloNeedMore}},
		{"most of it", rec[:len(rec)-1], result{Status: helloNeedMore}},
		{"http", []byte("GET / HTTP/1.1\r\n"), result{Status: helloNotTLS}},
		{"one byte of http", []byte("G"), result{Status: helloNotTLS}},
		{"not a client hello", bad, result{Status: helloBad}},
		{"zero length record", []byte{22, 3, 1, 0, 0}, result{Status: helloBad}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parse(tt.in)); diff != "" {
				t.Errorf("parse (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseClientHello(f *testing.F) {
	f.Add(helloRecord(f, "example.com", "h2"))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h clientHello
		parseClientHello(b, &h)
	})
}

// TestTLSInspector serves chains chosen by SNI, ALPN and transport
// protocol; each terminal echoes what it reads, which shows the peeked
// ClientHello is still there for it.
func TestTLSInspector(t *testing.T) {
	chains := []spec.FilterChainMatch{
		{TransportProtocol: RawBuffer},
		{ServerNames: []string{"*.example.com"}},
		{ServerNames: []string{"*.example.com"}, ApplicationProtocols: []string{"h2"}},
		{TransportProtocol: "tls"},
	}
	names := []string{"plain", "example", "example-h2", "other-tls"}
	var cs []*Chain
	for _, n := range names {
		cs = append(cs, &Chain{Terminal: echo{n}})
	}
	h, err := NewHandler(chains, cs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	counter, stats := counters()
	addr := serve(t, h.WithTLSInspector(&TLSInspector{Timeout: 5 * time.Second, Stats: NewInspectorStats(counter)}))
	tests := []struct {
		name, send, want string
	}{
		{"plain text", "hello", "plain"},
		{"sni wildcard", string(helloRecord(t, "WWW.example.com", "http/1.1")), "example"},
		{"sni and alpn", string(helloRecord(t, "a.example.com", "h2")), "example-h2"},
		{"other sni", string(helloRecord(t, "example.org")), "other-tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, addr, tt.send)
			if got != tt.want+":"+tt.send {
				name, _, _ := strings.Cut(got, ":")
				t.Errorf("chain %q, %d bytes echoed; want chain %q and the %d bytes sent", name, len(got)-len(name)-1, tt.want, len(tt.send))
			}
		})
	}
	got := map[string]uint64{}
	for name, c := range stats {
		got[name] = c.Load()
	}
	want := map[string]uint64{
		"tls_inspector.tls_found": 3, "tls_inspector.tls_not_found": 1,
		"tls_inspector.sni_found": 3, "tls_inspector.sni_not_found": 0,
		"tls_inspector.alpn_found": 2, "tls_inspector.alpn_not_found": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestTLSInspectorTimeout(t *testing.T) {
	h, err := NewHandler([]spec.FilterChainMatch{{}}, []*Chain{{Terminal: echo{"t"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		insp TLSInspector
		want string
	}{
		{"closes", TLSInspector{Timeout: 50 * time.Millisecond}, ""},
		{"continues as raw_buffer", TLSInspector{Timeout: 50 * time.Millisecond, ContinueOnTimeout: true}, "t:late"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var timeouts atomic.Uint64
			tt.insp.Timeouts = &timeouts
			addr := serve(t, h.WithTLSInspector(&tt.insp))
			defer func() {
				if n := timeouts.Load(); n != 1 {
					t.Errorf("downstream_pre_cx_timeout = %d, want 1", n)
				}
			}()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			// Wait past the timeout before sending.
			b := make([]byte, 2)
			n, _ := c.Read(b)
			if tt.want == "" {
				if n != 0 {
					t.Errorf("read %q, want the connection closed", b[:n])
				}
				return
			}
			io.WriteString(c, "late")
			c.(*net.TCPConn).CloseWrite()
			rest, _ := io.ReadAll(c)
			if got := string(b[:n]) + string(rest); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTLSInspectorParseError(t *testing.T) {
	h, err := NewHandler([]spec.FilterChainMatch{{}}, []*Chain{{Terminal: echo{"t"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	malformed := string([]byte{22, 3, 1, 0, 4, 2, 0, 0, 0})
	for _, closeOnErr := range []bool{false, true} {
		addr := serve(t, h.WithTLSInspector(&TLSInspector{Timeout: 5 * time.Second, CloseOnParseError: closeOnErr}))
		want := "t:" + malformed
		if closeOnErr {
			want = ""
		}
		if got := exchange(t, addr, malformed); got != want {
			t.Errorf("close_connection_on_client_hello_parsing_errors %v: got %q, want %q", closeOnErr, got, want)
		}
	}
}
