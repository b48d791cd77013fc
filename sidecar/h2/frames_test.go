package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// rawConn is an HTTP/2 client connection driven frame by frame.
type rawConn struct {
	t   testing.TB
	c   net.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

// dialRaw connects, sends the preface and an empty SETTINGS frame, and
// returns the server's first SETTINGS frame.
func dialRaw(t testing.TB, addr string) (*rawConn, *http2.SettingsFrame) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	rc := &rawConn{t: t, c: c, fr: http2.NewFramer(c, c)}
	rc.enc = hpack.NewEncoder(&rc.buf)
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	io.WriteString(c, preface)
	rc.fr.WriteSettings()
	f, err := rc.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	rc.fr.WriteSettingsAck()
	return rc, sf
}

// request sends a request head on stream id; end ends the stream.
func (rc *rawConn) request(id uint32, method, path string, end bool, extra ...string) {
	rc.buf.Reset()
	fields := append([]string{":method", method, ":scheme", "http", ":authority", "x", ":path", path}, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		rc.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	// Fragments of at most 16 KiB, the server's SETTINGS_MAX_FRAME_SIZE.
	block := rc.buf.Bytes()
	frag := block[:min(len(block), 16<<10)]
	block = block[len(frag):]
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0}); err != nil {
		rc.t.Fatal(err)
	}
	for len(block) > 0 {
		frag = block[:min(len(block), 16<<10)]
		block = block[len(frag):]
		if err := rc.fr.WriteContinuation(id, len(block) == 0, frag); err != nil {
			rc.t.Fatal(err)
		}
	}
}

// until reads frames until one of type T arrives (DATA is collected into
// data), or the connection ends.
func until[T http2.Frame](rc *rawConn, data *[]byte) (T, error) {
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			var zero T
			return zero, err
		}
		if d, ok := f.(*http2.DataFrame); ok && data != nil {
			*data = append(*data, d.Data()...)
		}
		if t, ok := f.(T); ok {
			return t, nil
		}
	}
}

// http2_protocol_options reach the connection's SETTINGS and window:
// max_concurrent_streams, initial_stream_window_size and
// initial_connection_window_size; the header list size is bounded.
func TestSettings(t *testing.T) {
	p := startProxy(t, routes(), nil, func(c *Config) {
		c.HTTP2 = spec.HTTP2Options{MaxConcurrentStreams: 7, InitialStreamWindowSize: 65535, InitialConnectionWindowSize: 1 << 21}
	})
	rc, sf := dialRaw(t, p.addr)
	got := map[http2.SettingID]uint32{}
	sf.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
	want := map[http2.SettingID]uint32{http2.SettingMaxConcurrentStreams: 7, http2.SettingInitialWindowSize: 65535,
		http2.SettingMaxHeaderListSize: got[http2.SettingMaxHeaderListSize]}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("setting %v = %d, want %d", id, got[id], v)
		}
	}
	if n := got[http2.SettingMaxHeaderListSize]; n < maxHeaderBytes || n > 2*maxHeaderBytes {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d, want about %d", n, maxHeaderBytes)
	}
	wu, err := until[*http2.WindowUpdateFrame](rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wu.StreamID != 0 || wu.Increment != 1<<21-65535 {
		t.Errorf("WINDOW_UPDATE stream %d +%d, want stream 0 +%d", wu.StreamID, wu.Increment, 1<<21-65535)
	}
}

// A header list larger than the advertised limit is answered 431.
func TestHeaderListTooLarge(t *testing.T) {
	p := startProxy(t, routes(), nil)
	rc, _ := dialRaw(t, p.addr)
	rc.request(1, "GET", "/", true, "x-big", strings.Repeat("a", 16<<10), "x-big2", strings.Repeat("b", 16<<10),
		"x-big3", strings.Repeat("c", 16<<10), "x-big4", strings.Repeat("d", 16<<10))
	h, err := until[*http2.MetaHeadersFrame](rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.PseudoValue("status"); s != "431" {
		t.Errorf(":status %s, want 431", s)
	}
}

// A listener that drains sends GOAWAY at once and lets the stream in
// progress complete before the connection closes.
func TestGoAwayOnDrain(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "late")
	}))
	defer be.Close()
	p := startProxy(t, routes(toCluster("/", "be")), map[string][]string{"be": {strings.TrimPrefix(be.URL, "http://")}})
	rc, _ := dialRaw(t, p.addr)
	rc.request(1, "GET", "/slow", true)
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the backend")
	}
	p.drain()
	ga, err := until[*http2.GoAwayFrame](rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ga.ErrCode != http2.ErrCodeNo {
		t.Errorf("GOAWAY %v, want NO_ERROR", ga.ErrCode)
	}
	close(release)
	var body []byte
	if _, err := until[*http2.MetaHeadersFrame](rc, &body); err != nil {
		t.Fatalf("response after GOAWAY: %v", err)
	}
	for !bytes.Equal(body, []byte("late")) {
		if _, err := until[*http2.DataFrame](rc, &body); err != nil {
			t.Fatalf("body after GOAWAY: %v (got %q)", err, body)
		}
	}
	if _, err := until[*http2.PingFrame](rc, nil); !errors.Is(err, io.EOF) {
		t.Errorf("after the last stream: %v, want the connection closed", err)
	}
}

// An upstream that fails in the middle of a response body makes the
// stream reset (RST_STREAM), not end: the client must not take a
// truncated body for whole.
func TestUpstreamResetIsStreamReset(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, strings.Repeat("x", 1000))
		w.(http.Flusher).Flush()
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	defer be.Close()
	p := startProxy(t, routes(toCluster("/", "be")), map[string][]string{"be": {strings.TrimPrefix(be.URL, "http://")}})
	rc, _ := dialRaw(t, p.addr)
	rc.request(1, "GET", "/", true)
	var body []byte
	rst, err := until[*http2.RSTStreamFrame](rc, &body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{uint32(1), http2.ErrCodeInternal, 1000}, []any{rst.StreamID, rst.ErrCode, len(body)}); diff != "" {
		t.Errorf("RST_STREAM after the body's start (-want +got):\n%s", diff)
	}
}

// A stream beyond max_concurrent_streams is reset while the others are
// served.
func TestMaxConcurrentStreams(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer be.Close()
	defer close(release)
	p := startProxy(t, routes(toCluster("/", "be")), map[string][]string{"be": {strings.TrimPrefix(be.URL, "http://")}},
		func(c *Config) { c.HTTP2.MaxConcurrentStreams = 1 })
	rc, _ := dialRaw(t, p.addr)
	rc.request(1, "GET", "/held", true)
	<-arrived
	rc.request(3, "GET", "/second", true)
	rst, err := until[*http2.RSTStreamFrame](rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rst.StreamID != 3 || (rst.ErrCode != http2.ErrCodeRefusedStream && rst.ErrCode != http2.ErrCodeProtocol) {
		t.Errorf("RST_STREAM %d %v, want stream 3 refused", rst.StreamID, rst.ErrCode)
	}
}
