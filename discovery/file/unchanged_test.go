package file

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestUnchanged checks when a stat is trusted to show that the file did
// not change since the last read.
func TestUnchanged(t *testing.T) {
	now := time.Now()
	old := now.Add(-time.Minute)
	tests := []struct {
		name  string
		mtime time.Time // of the file at the next poll
		data  string    // of the file at the next poll
		want  bool
	}{
		{"same stat, old mtime", old, "a", true},
		{"same stat, recent mtime", now.Add(-time.Second), "a", false},
		{"new mtime", old.Add(time.Second), "a", false},
		{"new size", old, "ab", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "services.yaml")
			write(t, path, "a")
			chtime(t, path, old)
			in := &input{path: path, readAt: now, info: stat(t, path)}
			write(t, path, tt.data)
			chtime(t, path, tt.mtime)
			if got := in.unchanged(stat(t, path)); got != tt.want {
				t.Errorf("unchanged() = %v, want %v", got, tt.want)
			}
		})
	}
}

func chtime(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
