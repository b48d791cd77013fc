package file

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	webFile    = "services:\n  - name: web\n    endpoints:\n      - {address: 127.0.0.1, port: 9001}\n"
	clientFile = "services:\n  - name: client\n    sidecar:\n      upstreams:\n        - {service: web, bind_port: 10001}\n"
)

// writeDir writes files (name -> content) into a new directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		write(t, filepath.Join(dir, name), data)
	}
	return dir
}

func TestSplitFiles(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // service names, or
		err   string   // the error, with DIR for the directory
	}{
		{
			name:  "merged in name order",
			files: map[string]string{"b-client.yml": clientFile, "a-web.yaml": webFile, ".hidden.yaml": "junk", "notes.txt": "junk"},
			want:  []string{"client", "web"},
		},
		{
			name:  "duplicate service across files",
			files: map[string]string{"a.yaml": webFile, "b.yaml": "services:\n  - name: other\n  - name: web\n"},
			err:   `DIR/b.yaml:3: services[1].name: duplicate service name "web" (first at DIR/a.yaml:2)`,
		},
		{
			name: "duplicate sidecar id across files",
			files: map[string]string{
				"a.yaml": webFile + "  - name: api\n    sidecar: {id: web-proxy}\n",
				"b.yaml": "services:\n  - name: batch\n    sidecar:\n      id: web-proxy\n",
			},
			err: `DIR/b.yaml:4: services[0].sidecar.id: "web-proxy" is also used by service "api" (DIR/a.yaml:6)`,
		},
		{
			name:  "upstream to a service no file declares",
			files: map[string]string{"a.yaml": clientFile},
			err:   `DIR/a.yaml:5: services[0].sidecar.upstreams[0].service: unknown service "web"`,
		},
		{
			name:  "no services files",
			files: map[string]string{"README": "x"},
			err:   `DIR: no *.yaml or *.yml services files in the directory`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.files)
			w := newWatch([]string{dir}, DefaultMaxBytes, slog.New(slog.DiscardHandler))
			c, err := w.load()
			if tc.err != "" {
				want := strings.ReplaceAll(tc.err, "DIR", dir)
				if err == nil || err.Error() != want {
					t.Fatalf("load() error\ngot  %v\nwant %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range c.Services() {
				got = append(got, s.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplitSameAsOneFile checks that splitting a file does not change the
// catalog's version, so replicas and restarts agree.
func TestSplitSameAsOneFile(t *testing.T) {
	one, err := Parse("services.yaml", []byte(webFile+strings.TrimPrefix(clientFile, "services:\n")))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeDir(t, map[string]string{"1.yaml": webFile, "2.yaml": clientFile})
	split, err := newWatch([]string{dir}, DefaultMaxBytes, slog.New(slog.DiscardHandler)).load()
	if err != nil {
		t.Fatal(err)
	}
	if one.Version() != split.Version() {
		t.Errorf("split version %s, one file %s", split.Version(), one.Version())
	}
}

// TestRereadsOnlyChanged checks that a poll after one file changed reads
// and parses that file only.
func TestRereadsOnlyChanged(t *testing.T) {
	dir := writeDir(t, map[string]string{"a.yaml": webFile, "b.yaml": clientFile})
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	old := time.Now().Add(-time.Minute)
	chtime(t, a, old) // out of the racy window: its stat is trusted
	w := newWatch([]string{dir}, DefaultMaxBytes, slog.New(slog.DiscardHandler))
	if _, err := w.load(); err != nil {
		t.Fatal(err)
	}
	aIn, aDecl, aRead := w.files[a], w.files[a].decl, w.files[a].readAt
	bDecl := w.files[b].decl

	write(t, b, strings.Replace(clientFile, "10001", "10002", 1))
	if c := w.poll(); c == nil {
		t.Fatal("poll after an edit published nothing")
	}
	if w.files[a] != aIn || w.files[a].decl != aDecl || !w.files[a].readAt.Equal(aRead) {
		t.Errorf("the unchanged file was read again")
	}
	if w.files[b].decl == bDecl {
		t.Errorf("the edited file was not parsed again")
	}
}

func TestSizeLimit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		limit int64
		err   string
	}{
		{"one file over", map[string]string{"a.yaml": webFile}, 50,
			"DIR/a.yaml: services file is 80 bytes, over the limit of 50 bytes"},
		{"files together over", map[string]string{"a.yaml": webFile, "b.yaml": clientFile}, 150,
			"DIR/b.yaml: services files are 180 bytes with this one (100 bytes), over the limit of 150 bytes"},
		{"at the limit", map[string]string{"a.yaml": webFile}, 80, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, tc.files)
			_, err := newWatch([]string{dir}, tc.limit, slog.New(slog.DiscardHandler)).load()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if want := strings.ReplaceAll(tc.err, "DIR", dir); got != want {
				t.Errorf("load() error\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

// TestSizeLimitKeepsLastGood grows a watched file over the limit: the last
// good catalog stays, the error is logged once, and a file back under the
// limit is served.
func TestSizeLimitKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.yaml")
	write(t, path, webFile)
	logs := &recorder{}
	w := newWatch([]string{path}, 200, slog.New(logs))
	if _, err := w.load(); err != nil {
		t.Fatal(err)
	}
	big := webFile + "# " + strings.Repeat("x", 200) + "\n"
	write(t, path, big)
	for range 2 {
		if c := w.poll(); c != nil {
			t.Fatalf("published %s from a file over the limit", c.Version())
		}
	}
	want := []string{"ERROR invalid services file, keeping the last good catalog: " + path +
		": services file is 283 bytes, over the limit of 200 bytes"}
	if diff := cmp.Diff(want, logs.take()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	write(t, path, strings.Replace(webFile, "9001", "9002", 1))
	if c := w.poll(); c == nil {
		t.Error("a file back under the limit was not published")
	}
}

func TestReadAtMostGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAtMost(path, 9); err == nil || !strings.Contains(err.Error(), "over the limit of 9 bytes") {
		t.Errorf("readAtMost over the limit = %v", err)
	}
	if data, err := readAtMost(path, 10); err != nil || string(data) != "0123456789" {
		t.Errorf("readAtMost at the limit = %q, %v", data, err)
	}
}
