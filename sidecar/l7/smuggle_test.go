package l7

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is a request as the upstream parsed it.
type seenRequest struct {
	method, path, body, host string
	header                   http.Header
}

// recorder is a real upstream that records every request it parses.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, seenRequest{r.Method, r.URL.Path, string(b), r.Host, r.Header.Clone()})
		rec.mu.Unlock()
		io.WriteString(w, "seen "+r.URL.Path)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

// dialProxy opens a client connection to addr with a bounded deadline.
func dialProxy(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

// roundTrip writes req on c and reads one response.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, req string) (int, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A Connection header that names a framing header must not strip it: the
// attacker's body would reach the upstream as the start of the next
// request, and capture the next client's request on a shared upstream
// connection (issue 7, item 1).
func TestConnectionNamingFramingHeaderIsRejected(t *testing.T) {
	for _, opt := range []string{"content-length", "Content-Length", "close, content-length", "transfer-encoding"} {
		t.Run(opt, func(t *testing.T) {
			rec := newRecorder(t)
			p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(rec.Server)}})
			// The smuggled request claims the next 30 bytes the upstream
			// reads on this connection as its body.
			smuggled := "POST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n"
			var framing string
			if strings.Contains(opt, "transfer") {
				framing = "Transfer-Encoding: chunked\r\n\r\n" + chunk(smuggled) + "0\r\n\r\n"
			} else {
				framing = "Content-Length: " + itoa(len(smuggled)) + "\r\n\r\n" + smuggled
			}
			attacker, abr := dialProxy(t, p.addr)
			code, _ := roundTrip(t, attacker, abr, "POST / HTTP/1.1\r\nHost: x\r\nConnection: "+opt+"\r\n"+framing)
			if code != 400 {
				t.Errorf("attacker got %d, want 400", code)
			}
			if _, err := abr.ReadByte(); err != io.EOF {
				t.Errorf("attacker connection after 400: %v, want EOF", err)
			}
			victim, vbr := dialProxy(t, p.addr)
			code, body := roundTrip(t, victim, vbr, "GET /victim HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\n\r\n")
			if code != 200 || body != "seen /victim" {
				t.Errorf("victim got %d %q, want 200 %q", code, body, "seen /victim")
			}
			for _, r := range rec.requests() {
				if r.path != "/victim" || strings.Contains(r.body, "victim") {
					t.Errorf("upstream saw %s %s body %q, want only the victim's GET /victim", r.method, r.path, r.body)
				}
			}
		})
	}
}

// A Connection option naming a header the proxy sets itself removes the
// client's copy, not the proxy's.
func TestConnectionNamingForwardedHeaders(t *testing.T) {
	rec := newRecorder(t)
	p := startProxy(t, prefixRoutes(toCluster("/", "web")), map[string][]string{"web": {hostOf(rec.Server)}})
	c, br := dialProxy(t, p.addr)
	code, _ := roundTrip(t, c, br, "GET /h HTTP/1.1\r\nHost: x\r\nConnection: x-forwarded-proto, x-forwarded-for, host\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	got := rec.requests()[0].header
	for name, want := range map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-For": "10.0.0.1, 127.0.0.1"} {
		if v := strings.Join(got.Values(name), ","); v != want {
			t.Errorf("upstream %s = %q, want %q", name, v, want)
		}
	}
}

func chunk(s string) string { return strings.ToLower(strconvHex(len(s))) + "\r\n" + s + "\r\n" }

func itoa(n int) string { return strconv.Itoa(n) }

func strconvHex(n int) string { return strconv.FormatInt(int64(n), 16) }
