//go:build linux

package file

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlb/meshlb/discovery"
)

// TestNotify edits watched files with the poll interval set to an hour, so
// only inotify can explain a publication.
func TestNotify(t *testing.T) {
	web9002 := strings.Replace(webFile, "9001", "9002", 1)
	tests := []struct {
		name string
		// setup returns the path to watch, in a fresh directory.
		setup func(t *testing.T, dir string) string
		edit  func(t *testing.T, dir string)
		// want checks the catalog published after the edit.
		want func(c *discovery.Catalog) bool
	}{
		{
			name:  "file replaced by rename",
			setup: func(t *testing.T, dir string) string { return one(t, dir, webFile) },
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "services.yaml")
				write(t, p+".tmp", web9002)
				if err := os.Rename(p+".tmp", p); err != nil {
					t.Fatal(err)
				}
			},
			want: port(9002),
		},
		{
			name:  "file written in place",
			setup: func(t *testing.T, dir string) string { return one(t, dir, webFile) },
			edit:  func(t *testing.T, dir string) { write(t, filepath.Join(dir, "services.yaml"), web9002) },
			want:  port(9002),
		},
		{
			name: "file added to a directory",
			setup: func(t *testing.T, dir string) string {
				write(t, filepath.Join(dir, "a.yaml"), webFile)
				return dir
			},
			edit: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "b.yaml"), clientFile) },
			want: func(c *discovery.Catalog) bool { return len(c.Services()) == 2 },
		},
		{
			name: "file removed from a directory",
			setup: func(t *testing.T, dir string) string {
				write(t, filepath.Join(dir, "a.yaml"), webFile)
				write(t, filepath.Join(dir, "b.yaml"), "services:\n  - name: api\n")
				return dir
			},
			edit: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			want: func(c *discovery.Catalog) bool { return len(c.Services()) == 1 },
		},
		{
			name: "symbolic link to a file in another directory",
			setup: func(t *testing.T, dir string) string {
				real := filepath.Join(dir, "data", "services.yaml")
				if err := os.Mkdir(filepath.Dir(real), 0o755); err != nil {
					t.Fatal(err)
				}
				write(t, real, webFile)
				link := filepath.Join(dir, "etc", "services.yaml")
				if err := os.Mkdir(filepath.Dir(link), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(real, link); err != nil {
					t.Fatal(err)
				}
				return link
			},
			edit: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "data", "services.yaml"), web9002) },
			want: port(9002),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := New(tc.setup(t, dir), slog.New(slog.DiscardHandler))
			src.Interval = time.Hour
			pubs := run(t, src)
			wait(t, pubs, func(*discovery.Catalog) bool { return true })
			start := time.Now()
			tc.edit(t, dir)
			wait(t, pubs, tc.want)
			t.Logf("published %v after the edit", time.Since(start))
		})
	}
}

// one writes services.yaml in dir and returns its path.
func one(t *testing.T, dir, data string) string {
	p := filepath.Join(dir, "services.yaml")
	write(t, p, data)
	return p
}

// port checks that the first service's first endpoint has port p.
func port(p int) func(c *discovery.Catalog) bool {
	return func(c *discovery.Catalog) bool { return c.Services()[0].Endpoints[0].Port == p }
}

// wait waits up to 5 s for a publication that satisfies ok.
func wait(t *testing.T, pubs <-chan *discovery.Catalog, ok func(*discovery.Catalog) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		select {
		case c := <-pubs:
			if ok(c) {
				return
			}
		case <-ctx.Done():
			t.Fatal("no matching catalog published")
		}
	}
}
