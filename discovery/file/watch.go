package file

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meshlb/meshlb/discovery"
)

// racyWindow is how long after a file's mtime its stat is not trusted to
// reveal a change: a second write within the filesystem's timestamp
// granularity can keep mtime and size. Git calls this "racy clean".
const racyWindow = 2 * time.Second

// watch is the state of one file Source's Run. It is owned by that Run's
// goroutine.
type watch struct {
	roots    []string // as given: files or directories
	maxBytes int64
	logger   *slog.Logger
	files    map[string]*input // the files of the last listing, by path
	order    []string          // their paths, in merge order
	dirty    bool              // the listing or a file's content changed since the last merge
	version  string            // of the last published catalog
	failing  bool              // a path could not be read; already logged
	logged   string            // the last invalid-input error logged
}

// input is one services file as last read.
type input struct {
	path   string
	info   os.FileInfo // at the last read
	readAt time.Time   // when the last read started
	sum    [sha256.Size]byte
	decl   *fileDecl // parsed content, nil if err
	err    error     // why the content does not parse
	items  items     // of decl, to parse only changed items next time
}

func newWatch(roots []string, maxBytes int64, logger *slog.Logger) *watch {
	return &watch{roots: roots, maxBytes: maxBytes, logger: logger, files: map[string]*input{}}
}

// load reads and parses the files for the initial catalog.
func (w *watch) load() (*discovery.Catalog, error) {
	if err := w.scan(); err != nil {
		return nil, err
	}
	c, err := w.build()
	if err != nil {
		return nil, err
	}
	w.version = c.Version()
	return c, nil
}

// poll returns the catalog if its version changed since the last publish,
// or nil. It reads and parses only the files that changed.
func (w *watch) poll() *discovery.Catalog {
	if err := w.scan(); err != nil {
		if _, ok := errors.AsType[*sizeError](err); ok {
			w.invalid(err)
		} else {
			w.unavailable(err)
		}
		return nil
	}
	if w.failing {
		w.failing = false
		w.logger.Info("services files are readable again")
	}
	if !w.dirty {
		return nil
	}
	c, err := w.build()
	if err != nil {
		w.invalid(err)
		return nil
	}
	w.logged = ""
	if c.Version() == w.version {
		return nil
	}
	w.version = c.Version()
	w.logger.Info("catalog changed", "version", c.Version())
	return c
}

// scan lists the files and reads those whose stat shows or does not rule
// out a change; a file whose content changed is parsed again, and its parse
// error kept for build. It returns the first error listing, reading or
// bounding the files.
func (w *watch) scan() error {
	paths, err := w.list()
	if err != nil {
		return err
	}
	if !slices.Equal(paths, w.order) {
		w.dirty = true
	}
	next := make(map[string]*input, len(paths))
	var total int64
	for _, p := range paths {
		in := w.files[p]
		if in == nil {
			in = &input{path: p}
		}
		if total, err = w.refresh(in, total); err != nil {
			return err
		}
		next[p] = in
	}
	w.files, w.order = next, paths
	return nil
}

// refresh reads in again unless its stat proves it unchanged. total is the
// size of the files before it; refresh returns it with in's size added.
func (w *watch) refresh(in *input, total int64) (int64, error) {
	now := time.Now()
	info, err := os.Stat(in.path)
	if err != nil {
		return 0, err
	}
	total += info.Size()
	if total > w.maxBytes {
		return 0, &sizeError{path: in.path, size: info.Size(), total: total, limit: w.maxBytes}
	}
	if in.unchanged(info) {
		return total, nil
	}
	data, err := readAtMost(in.path, w.maxBytes-(total-info.Size()))
	if err != nil {
		return 0, err
	}
	in.info, in.readAt = info, now
	if sum := sha256.Sum256(data); sum != in.sum || in.decl == nil && in.err == nil {
		in.sum = sum
		in.decl, in.items, in.err = parseCached(in.path, data, in.items)
		w.dirty = true
	}
	return total, nil
}

// build merges the parsed files into a catalog, or returns the first
// file's parse error or the merge's error.
func (w *watch) build() (*discovery.Catalog, error) {
	w.dirty = false
	decls := make([]*fileDecl, 0, len(w.order))
	for _, p := range w.order {
		in := w.files[p]
		if in.err != nil {
			return nil, in.err
		}
		decls = append(decls, in.decl)
	}
	return merge(decls)
}

// list returns the services files of the roots, in merge order: a file
// root itself, and a directory's *.yaml and *.yml entries that are not
// hidden, by name. A directory without any is an error.
func (w *watch) list() ([]string, error) {
	var out []string
	for _, root := range w.roots {
		info, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, root)
			continue
		}
		entries, err := os.ReadDir(root)
		if err != nil {
			return nil, err
		}
		n := len(out)
		for _, e := range entries {
			if isServicesFile(root, e) {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml services files in the directory", root)
		}
	}
	return out, nil
}

// isServicesFile reports whether directory entry e of dir is a services
// file: a regular file (or a link to one) named *.yaml or *.yml, not hidden
// (editors' and Kubernetes' temporary names start with a dot).
func isServicesFile(dir string, e os.DirEntry) bool {
	name := e.Name()
	if strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
		return false
	}
	info, err := os.Stat(filepath.Join(dir, name))
	return err == nil && info.Mode().IsRegular()
}

// dirs returns the directories whose entries decide the files' content:
// each root directory, each file root's directory, and the directory a
// listed file's symbolic link resolves to.
func (w *watch) dirs() []string {
	var out []string
	add := func(d string) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, root := range w.roots {
		if info, err := os.Stat(root); err == nil && info.IsDir() {
			add(root)
		} else {
			add(filepath.Dir(root))
		}
	}
	for _, p := range w.order {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			add(filepath.Dir(real))
		}
	}
	return out
}

// loop polls until ctx is done: after inotify events (n not nil) and every
// max(interval, notifyResync) while n watches every directory, or every
// interval without n or while a directory cannot be watched.
func (w *watch) loop(ctx context.Context, n *notifier, interval time.Duration, publish func(*discovery.Catalog)) error {
	var events <-chan struct{}
	if n != nil {
		events = n.events()
	}
	period := func() time.Duration {
		if n != nil && n.complete() {
			return max(interval, notifyResync)
		}
		return interval
	}
	every := period()
	t := time.NewTicker(every)
	defer t.Stop()
	settle := time.NewTimer(notifyDelay)
	settle.Stop()
	defer settle.Stop()
	step := func() {
		if c := w.poll(); c != nil {
			publish(c)
		}
		if n != nil {
			n.watch(w.dirs(), w.logger)
		}
		if p := period(); p != every {
			every = p
			t.Reset(every)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events:
			settle.Reset(notifyDelay)
		case <-settle.C:
			step()
		case <-t.C:
			step()
		}
	}
}

// unchanged reports whether info proves the file is the one last read. It
// does not when the last read was within racyWindow of the file's mtime.
func (in *input) unchanged(info os.FileInfo) bool {
	return in.info != nil && os.SameFile(in.info, info) &&
		info.Size() == in.info.Size() && info.ModTime().Equal(in.info.ModTime()) &&
		info.ModTime().Before(in.readAt.Add(-racyWindow))
}

// unavailable logs that a file cannot be read, once until they all can be.
func (w *watch) unavailable(err error) {
	if w.failing {
		return
	}
	w.failing = true
	w.logger.Warn("services file unavailable, keeping the last good catalog", "err", err)
}

// invalid logs why the files do not make a catalog, once per error until
// one does.
func (w *watch) invalid(err error) {
	if msg := err.Error(); msg != w.logged {
		w.logged = msg
		w.logger.Error("invalid services file, keeping the last good catalog", "err", err)
	}
}

// sizeError is a services file over the size limit.
type sizeError struct {
	path        string
	size, total int64 // the file's size; with the files before it
	limit       int64
}

func (e *sizeError) Error() string {
	if e.size == e.total {
		return fmt.Sprintf("%s: services file is %d bytes, over the limit of %d bytes", e.path, e.size, e.limit)
	}
	return fmt.Sprintf("%s: services files are %d bytes with this one (%d bytes), over the limit of %d bytes", e.path, e.total, e.size, e.limit)
}

// readAtMost reads the file at path, which must not exceed limit bytes even
// if it grew since it was stat'ed.
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &sizeError{path: path, size: int64(len(data)), total: int64(len(data)), limit: limit}
	}
	return data, nil
}
