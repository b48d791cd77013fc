package file

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/discovery"
)

// testInterval is the poll interval in tests. Tests run in a synctest
// bubble, so waiting for polls advances a fake clock and costs nothing.
const testInterval = 10 * time.Millisecond

func serviceFile(port string) string {
	return "services:\n  - name: web\n    endpoints:\n      - {address: 127.0.0.1, port: " + port + "}\n"
}

// run starts src.Run and returns its publications; cleanup cancels Run
// and checks that it returned nil.
func run(t *testing.T, src *Source) <-chan *discovery.Catalog {
	t.Helper()
	pubs := make(chan *discovery.Catalog, 16)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(c *discovery.Catalog) { pubs <- c }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
	return pubs
}

// next waits a bounded time for the next publication and returns the
// port of its only endpoint.
func next(t *testing.T, pubs <-chan *discovery.Catalog) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	select {
	case c := <-pubs:
		return c.Services()[0].Endpoints[0].Port
	case <-ctx.Done():
		t.Fatal("no catalog published")
		return 0
	}
}

// none checks that nothing is published during several polls.
func none(t *testing.T, pubs <-chan *discovery.Catalog) {
	t.Helper()
	select {
	case c := <-pubs:
		t.Fatalf("published catalog %s, want none", c.Version())
	case <-time.After(5*testInterval + testInterval/2):
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// recorder is a slog.Handler that keeps the messages of its records.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
	return nil
}

// take returns the messages recorded since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

func TestSourceWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "services.yaml")
		write(t, path, serviceFile("9001"))
		logs := &recorder{}
		src := New(path, slog.New(logs))
		src.Interval, src.Poll = testInterval, true
		pubs := run(t, src)

		if got := next(t, pubs); got != 9001 {
			t.Fatalf("initial port = %d, want 9001", got)
		}
		write(t, path, serviceFile("9002"))
		if got := next(t, pubs); got != 9002 {
			t.Fatalf("port after edit = %d, want 9002", got)
		}
		logs.take()

		write(t, path, serviceFile("70000"))
		none(t, pubs)
		want := []string{"ERROR invalid services file, keeping the last good catalog: " +
			path + ":4: services[0].endpoints[0].port: 70000 is out of range 1-65535"}
		if diff := cmp.Diff(want, logs.take()); diff != "" {
			t.Errorf("logs after invalid edit (-want +got):\n%s", diff)
		}

		write(t, path, serviceFile("9003"))
		if got := next(t, pubs); got != 9003 {
			t.Fatalf("port after fix = %d, want 9003", got)
		}
		write(t, path, serviceFile("9003"))
		none(t, pubs)
		write(t, path, "# same services\n"+serviceFile("9003"))
		none(t, pubs)
	})
}

func TestSourceRemovedFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "services.yaml")
		write(t, path, serviceFile("9001"))
		logs := &recorder{}
		src := New(path, slog.New(logs))
		src.Interval, src.Poll = testInterval, true
		pubs := run(t, src)
		next(t, pubs)
		logs.take()

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		none(t, pubs)
		if got := logs.take(); len(got) != 1 || !strings.HasPrefix(got[0], "WARN services file unavailable") {
			t.Errorf("logs after remove = %q, want one warning", got)
		}
		// An editor that writes a new file and renames it over the old one.
		tmp := path + ".tmp"
		write(t, tmp, serviceFile("9002"))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if got := next(t, pubs); got != 9002 {
			t.Fatalf("port after rename = %d, want 9002", got)
		}
	})
}

func TestSourceInitialError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "services:\n  - name: a\n    port: 1\n")
	tests := []struct {
		name string
		path string
		want string
		is   error
	}{
		{"invalid", bad, "failed to load catalog: " + bad +
			":3: services[0].port: unknown field, expected one of name, protocol, endpoints, sidecar, lb_policy, hash_policy, health_check, outlier_detection, retries, timeout", nil},
		{"missing", filepath.Join(dir, "missing.yaml"), "", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := New(tt.path, slog.New(slog.DiscardHandler))
			err := src.Run(t.Context(), func(c *discovery.Catalog) {
				t.Errorf("published catalog %s, want none", c.Version())
			})
			if err == nil {
				t.Fatal("Run() = nil, want error")
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("Run() error\ngot  %v\nwant %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Run() error = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pubs := run(t, NewStatic("default.yaml", Default))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		select {
		case c := <-pubs:
			if got := len(c.Services()); got != 3 {
				t.Errorf("published %d services, want 3", got)
			}
		case <-ctx.Done():
			t.Fatal("no catalog published")
		}
		none(t, pubs)
	})
}

func TestStaticError(t *testing.T) {
	err := NewStatic("inline", []byte("services: 1\n")).Run(t.Context(), func(*discovery.Catalog) {
		t.Error("published a catalog, want none")
	})
	want := "failed to load catalog: inline:1: services: expected a list, got integer 1"
	if err == nil || err.Error() != want {
		t.Errorf("Run() error = %v, want %s", err, want)
	}
}
