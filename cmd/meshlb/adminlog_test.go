package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Admin requests are logged, one line each, to every admin access log
// file of the bootstrap.
func TestAdminAccessLog(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")}
	h, closeLogs, err := adminAccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready")
	}), paths)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	resp, err := http.Get(srv.URL + "/ready?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close()
	closeLogs()
	want := regexp.MustCompile(`^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] "GET /ready\?x=1 HTTP/1.1" 503 - 0 9 \d+ - "-" "Go-http-client/1.1" "-" "127.0.0.1:\d+" "-"\n$`)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !want.Match(b) {
			t.Errorf("%s = %q, want a line matching %s", p, b, want)
		}
	}
}

func TestAdminAccessLogBadPath(t *testing.T) {
	if _, _, err := adminAccessLog(http.NotFoundHandler(), []string{filepath.Join(t.TempDir(), "no", "such", "dir")}); err == nil {
		t.Fatal("want an error for a file that cannot be opened")
	}
}
