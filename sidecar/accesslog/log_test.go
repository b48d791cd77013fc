package accesslog

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

var start = time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC)

func testInfo() *stream.Info {
	return &stream.Info{Protocol: "HTTP/1.1", Code: 200, Route: "r", Cluster: "web", Endpoint: "10.0.0.2:80", Attempts: 1,
		BytesReceived: 10, BytesSent: 20, Start: start, Total: 12 * time.Millisecond, FirstUpstreamByte: 7 * time.Millisecond,
		Addrs: stream.Addrs{Downstream: netip.MustParseAddrPort("192.0.2.1:4000")}}
}

func testRequest() *route.Request {
	return &route.Request{Method: []byte("GET"), Host: []byte("api"), Path: []byte("/v1"), Query: []byte("a=1"),
		Headers: []route.Header{{Name: []byte("User-Agent"), Value: []byte("curl/8")}, {Name: []byte("X-Request-Id"), Value: []byte("id-1")}}}
}

func newSinks(t *testing.T) *Sinks {
	ss := NewSinks(slog.New(slog.DiscardHandler), nil)
	t.Cleanup(ss.Close)
	return ss
}

// logOnce compiles logs, logs one request through them, closes the sinks
// (writing everything) and returns each file's content.
func logOnce(t *testing.T, logs []spec.AccessLog, info *stream.Info, req *route.Request, resp []route.Header) map[string]string {
	t.Helper()
	ss := NewSinks(slog.New(slog.DiscardHandler), nil)
	set, err := Compile(logs, ss)
	if err != nil {
		ss.Close()
		t.Fatal(err)
	}
	var c Capture
	set.Request(&c, req)
	if set.WantsResponse() {
		set.Response(&c, resp)
	}
	set.Log(info, &c)
	ss.Close()
	out := map[string]string{}
	for _, l := range logs {
		b, _ := os.ReadFile(l.Path)
		out[filepath.Base(l.Path)] = string(b)
	}
	return out
}

// TestFormats shows the text and JSON renderings of one request:
// Envoy's default format, a text format, omit_empty_values, and
// json_format with typed values, constants and nested objects.
func TestFormats(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	nested := &spec.JSONFormat{Fields: []spec.JSONField{{Key: "cluster", IsFormat: true, Format: "%UPSTREAM_CLUSTER%"},
		{Key: "none", IsFormat: true, Format: "%RESP(X-NONE)%"}}}
	json := &spec.JSONFormat{Fields: []spec.JSONField{
		{Key: "code", IsFormat: true, Format: "%RESPONSE_CODE%"},
		{Key: "method", IsFormat: true, Format: "%REQ(:METHOD)%"},
		{Key: "missing", IsFormat: true, Format: "%REQ(X-NONE)%"},
		{Key: "on", Const: "true"},
		{Key: "path", IsFormat: true, Format: "%REQ(:PATH)% at %START_TIME(%s)%"},
		{Key: "up", Object: nested},
		{Key: "version", Const: "2"},
	}}
	tests := []struct {
		name string
		log  spec.AccessLog
		want string
	}{
		{"default", spec.AccessLog{Path: p("default")},
			`[2026-03-04T05:06:07.891Z] "GET /v1?a=1 HTTP/1.1" 200 - 10 20 12 3 "-" "curl/8" "id-1" "api" "10.0.0.2:80"` + "\n"},
		{"text", spec.AccessLog{Path: p("text"), Format: "%REQ(USER-AGENT)% %REQ(X-NONE)% %RESP(CONTENT-TYPE)%!\n"},
			"curl/8 - text/plain!\n"},
		{"omit empty text", spec.AccessLog{Path: p("omit"), Format: "[%REQ(X-NONE)%] %RESPONSE_CODE%\n", OmitEmpty: true},
			"[] 200\n"},
		{"json", spec.AccessLog{Path: p("json"), JSON: json},
			`{"code":200,"method":"GET","missing":null,"on":true,"path":"/v1?a=1 at 1772600767","up":{"cluster":"web","none":null},"version":2}` + "\n"},
		{"json omit empty", spec.AccessLog{Path: p("jsonomit"), JSON: json, OmitEmpty: true},
			`{"code":200,"method":"GET","on":true,"path":"/v1?a=1 at 1772600767","up":{"cluster":"web"},"version":2}` + "\n"},
	}
	var logs []spec.AccessLog
	for _, tc := range tests {
		logs = append(logs, tc.log)
	}
	resp := []route.Header{{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		{Name: []byte("X-Envoy-Upstream-Service-Time"), Value: []byte("3")}}
	got := logOnce(t, logs, testInfo(), testRequest(), resp)
	for _, tc := range tests {
		if g := got[filepath.Base(tc.log.Path)]; g != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, g, tc.want)
		}
	}
}

// TestFilteredLog: a log writes only what its filter takes.
func TestFilteredLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "errors")
	logs := []spec.AccessLog{{Path: path, Format: "%RESPONSE_CODE%\n",
		Filter: &spec.AccessLogFilter{Kind: spec.StatusCodeFilter, Op: spec.CompareGE, Value: 500}}}
	ss := newSinks(t)
	set, err := Compile(logs, ss)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{200, 503, 404, 500} {
		info := testInfo()
		info.Code = code
		var c Capture
		set.Request(&c, testRequest())
		set.Log(info, &c)
	}
	ss.Close()
	if b, _ := os.ReadFile(path); string(b) != "503\n500\n" {
		t.Errorf("got %q, want 503 and 500", b)
	}
}

// TestTCPLog: a TCP connection's entry has no headers: they are "-".
func TestTCPLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tcp")
	ss := newSinks(t)
	set, err := Compile([]spec.AccessLog{{Path: path, Format: "%BYTES_RECEIVED% %REQ(:METHOD)% %UPSTREAM_HOST%\n"}}, ss)
	if err != nil {
		t.Fatal(err)
	}
	set.Log(testInfo(), nil)
	ss.Close()
	if b, _ := os.ReadFile(path); string(b) != "10 - 10.0.0.2:80\n" {
		t.Errorf("got %q", b)
	}
}

// TestSharedSink: logs to the same path share one sink, and Recent
// returns the last lines written.
func TestSharedSinkAndRecent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared")
	ss := newSinks(t)
	a, err := Compile([]spec.AccessLog{{Path: path, Format: "a %RESPONSE_CODE%\n"}}, ss)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile([]spec.AccessLog{{Path: path, Format: "b %RESPONSE_CODE%\n"}}, ss)
	if err != nil {
		t.Fatal(err)
	}
	if a.logs[0].out.(*fileWriter).sink != b.logs[0].out.(*fileWriter).sink {
		t.Fatal("two sinks for one path")
	}
	var c Capture
	a.Request(&c, testRequest())
	a.Log(testInfo(), &c)
	waitFor(t, func() bool { return slicesEqual(Recent(1), []string{"a 200"}) })
	b.Log(testInfo(), &c)
	waitFor(t, func() bool { return slicesEqual(Recent(2), []string{"a 200", "b 200"}) })
	if got := Recent(-1); len(got) != 0 {
		t.Errorf("Recent(-1) = %q", got)
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met in 5 s")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestBlockedSinkDrops writes to a FIFO nobody reads: the writer blocks
// once the pipe is full, the queue fills, and further lines are dropped
// and counted while Log keeps returning at once. Close does not hang on
// the blocked writer.
func TestBlockedSinkDrops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader that never reads, so that opening for writing does not wait.
	rd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	counters := ownCounters()
	ss := NewSinks(slog.New(slog.DiscardHandler), counters)
	set, err := Compile([]spec.AccessLog{{Path: path, Format: strings.Repeat("x", 200) + "\n"}}, ss)
	if err != nil {
		t.Fatal(err)
	}
	var c Capture
	set.Request(&c, testRequest())
	n := queueLen + 2000 // more than the pipe (64 KiB, ~330 lines) and the queue hold
	begin := time.Now()
	for range n {
		set.Log(testInfo(), &c)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("logging %d lines to a blocked sink took %v", n, d)
	}
	sink := set.logs[0].out.(*fileWriter).sink
	if sink.Dropped.Load() == 0 || counters("access_log.file.dropped").Load() != sink.Dropped.Load() {
		t.Errorf("dropped %d (counter %d), want > 0 and equal", sink.Dropped.Load(), counters("access_log.file.dropped").Load())
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		ss.Close()
	}()
	select {
	case <-closed:
	case <-time.After(3 * closeWait):
		t.Fatal("Close hung on a blocked sink")
	}
}

func TestOpenError(t *testing.T) {
	ss := newSinks(t)
	_, err := Compile([]spec.AccessLog{{Path: filepath.Join(t.TempDir(), "no", "dir", "log")}}, ss)
	if err == nil || !strings.Contains(err.Error(), "access_log[0]: opening access log") {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkLog is the request path's cost of a file access log in
// Envoy's default format: capture the request and response heads, format
// the line and queue it (the sink's goroutine writes the file).
func BenchmarkLog(b *testing.B) {
	ss := NewSinks(slog.New(slog.DiscardHandler), nil)
	defer ss.Close()
	set, err := Compile([]spec.AccessLog{{Path: filepath.Join(b.TempDir(), "log")}}, ss)
	if err != nil {
		b.Fatal(err)
	}
	info, req := testInfo(), testRequest()
	resp := []route.Header{{Name: []byte("X-Envoy-Upstream-Service-Time"), Value: []byte("3")}}
	var c Capture
	b.ReportAllocs()
	for b.Loop() {
		set.Request(&c, req)
		set.Response(&c, resp)
		set.Log(info, &c)
	}
}

// TestStdoutStderr: the stdout and stderr loggers write to the process's
// standard output and error, as they are when the sink opens.
func TestStdoutStderr(t *testing.T) {
	var files [2]*os.File
	var reads [2]chan string
	saved := [2]*os.File{os.Stdout, os.Stderr}
	for i := range files {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		files[i], reads[i] = w, make(chan string, 1)
		go func() {
			defer r.Close()
			b, _ := io.ReadAll(r)
			reads[i] <- string(b)
		}()
	}
	os.Stdout, os.Stderr = files[0], files[1]
	ss := NewSinks(slog.New(slog.DiscardHandler), nil)
	set, err := Compile([]spec.AccessLog{{Path: "/dev/stdout", Format: "out %RESPONSE_CODE%\n"}, {Path: "/dev/stderr", Format: "err %RESPONSE_CODE%\n"}}, ss)
	os.Stdout, os.Stderr = saved[0], saved[1]
	if err != nil {
		t.Fatal(err)
	}
	set.Log(testInfo(), nil)
	ss.Close()
	files[0].Close()
	files[1].Close()
	if out, errs := <-reads[0], <-reads[1]; out != "out 200\n" || errs != "err 200\n" {
		t.Errorf("stdout %q, stderr %q", out, errs)
	}
}
