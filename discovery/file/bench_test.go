package file

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeServices writes services (×10 endpoints each) into n files in dir,
// the services spread evenly, and returns the files' paths.
func writeServices(b *testing.B, dir string, services, n int) []string {
	b.Helper()
	var paths []string
	for f := range n {
		var sb strings.Builder
		sb.WriteString("services:\n")
		for s := f; s < services; s += n {
			fmt.Fprintf(&sb, "  - name: svc-%05d\n    protocol: http\n    endpoints:\n", s)
			for e := range 10 {
				fmt.Fprintf(&sb, "      - address: 10.%d.%d.%d\n        port: %d\n", s>>8&255, s&255, e, 8000+e)
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("%03d.yaml", f))
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// BenchmarkEditOneEndpoint measures a poll after one endpoint of 2,000 or
// 10,000 services × 10 endpoints changed, with the services in one file
// and split 100 to a file.
func BenchmarkEditOneEndpoint(b *testing.B) {
	for _, services := range []int{2000, 10000} {
		for _, files := range []int{1, services / 100} {
			b.Run(fmt.Sprintf("services=%d/files=%d", services, files), func(b *testing.B) {
				benchmarkEdit(b, services, files)
			})
		}
	}
}

// benchmarkEdit measures a poll after one endpoint edit of services split
// over files.
func benchmarkEdit(b *testing.B, services, files int) {
	dir := b.TempDir()
	paths := writeServices(b, dir, services, files)
	old := time.Now().Add(-time.Minute)
	for _, p := range paths {
		os.Chtimes(p, old, old) // out of the racy window
	}
	w := newWatch([]string{dir}, DefaultMaxBytes, slog.New(slog.DiscardHandler))
	if _, err := w.load(); err != nil {
		b.Fatal(err)
	}
	orig, err := os.ReadFile(paths[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		edit := strings.Replace(string(orig), "port: 8000\n", fmt.Sprintf("port: %d\n", 20000+i%1000), 1)
		if err := os.WriteFile(paths[0], []byte(edit), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if c := w.poll(); c == nil {
			b.Fatal("no catalog after an edit")
		}
		b.StopTimer()
		os.Chtimes(paths[0], old, old)
		w.files[paths[0]].readAt = time.Now()
		b.StartTimer()
	}
}
