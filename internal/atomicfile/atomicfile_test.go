package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWrite replaces a file in a directory it creates, and leaves no
// temporary file behind.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "f.json")
	for _, want := range []string{"one", "two"} {
		if err := Write(path, []byte(want)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v (%v), want only f.json", entries, err)
	}
}

// TestWriteFails: a path whose directory cannot be made is an error, and
// nothing is written.
func TestWriteFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(file, "f.json"), []byte("x")); err == nil {
		t.Fatal("Write under a regular file succeeded")
	}
}
