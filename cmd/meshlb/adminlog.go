package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// adminAccessLog wraps the admin handler h so that each request is logged
// to every file in paths (the bootstrap's admin.access_log file sinks and
// access_log_path), one line per request in Envoy's default access log
// format, with "-" for what an admin request does not have. close
// closes the files. With no paths, h is returned as is.
func adminAccessLog(h http.Handler, paths []string) (_ http.Handler, close func(), _ error) {
	if len(paths) == 0 {
		return h, func() {}, nil
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	ws := make([]io.Writer, 0, len(paths))
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("opening admin access log: %w", err)
		}
		files = append(files, f)
		ws = append(ws, f)
	}
	l := &accessLogger{next: h, w: io.MultiWriter(ws...)}
	return l, closeAll, nil
}

// accessLogger logs each request it passes to next. Safe for concurrent
// use: lines are written whole under mu.
type accessLogger struct {
	next http.Handler
	mu   sync.Mutex
	w    io.Writer
}

func (l *accessLogger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	l.next.ServeHTTP(rec, r)
	line := fmt.Sprintf("[%s] \"%s %s %s\" %d - %d %d %d - \"%s\" \"%s\" \"%s\" \"%s\" \"-\"\n",
		start.UTC().Format("2006-01-02T15:04:05.000Z"), r.Method, r.URL.RequestURI(), r.Proto,
		rec.status, max(r.ContentLength, 0), rec.bytes, time.Since(start).Milliseconds(),
		orDash(r.Header.Get("X-Forwarded-For")), orDash(r.UserAgent()),
		orDash(r.Header.Get("X-Request-Id")), orDash(r.Host))
	l.mu.Lock()
	io.WriteString(l.w, line)
	l.mu.Unlock()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// statusRecorder records the status and body size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection, for the
// dashboard's per-write deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes on to the wrapped writer, for streaming admin endpoints.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
