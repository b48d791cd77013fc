package file

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/meshlb/meshlb/discovery"
)

// DefaultInterval is how often a [Source] polls its file when
// [Source.Interval] is zero.
const DefaultInterval = 250 * time.Millisecond

// racyWindow is how long after a file's mtime its stat is not trusted to
// reveal a change: a second write within the filesystem's timestamp
// granularity can keep mtime and size. Git calls this "racy clean".
const racyWindow = 2 * time.Second

// Source is a [discovery.Source] that serves a services.yaml file, or
// static data from [NewStatic].
//
// A file Source polls the file every Interval, comparing identity, mtime and
// size, and the content's hash when those leave doubt, so editors that
// replace the file by renaming are handled. It publishes only when the
// catalog's version changes. An invalid edit, or a missing file, keeps the
// last good catalog and is logged once until the content changes again.
//
// Interval must not change while Run is running. Run may be called more
// than once, even concurrently; each call has its own state.
type Source struct {
	// Interval is how often Run polls the file; zero means DefaultInterval.
	// Static sources ignore it.
	Interval time.Duration

	name   string // file path, or the name of static data in errors
	data   []byte // static data
	static bool
	logger *slog.Logger
}

var _ discovery.Source = (*Source)(nil)

// New returns a Source that watches the services.yaml file at path. A nil
// logger means [slog.Default].
func New(path string, logger *slog.Logger) *Source {
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{name: path, logger: logger.With("component", "discovery-file")}
}

// NewStatic returns a Source that publishes the catalog in data once and
// never changes, for example NewStatic("default.yaml", [Default]). name is
// used in errors. data is copied.
func NewStatic(name string, data []byte) *Source {
	return &Source{name: name, data: slices.Clone(data), static: true}
}

// Run implements [discovery.Source]. It publishes the initial catalog, or
// returns the error that prevented loading it, then publishes each changed
// catalog until ctx is done, when it returns nil. publish is called on
// Run's goroutine.
func (s *Source) Run(ctx context.Context, publish func(*discovery.Catalog)) error {
	if s.static {
		c, err := Parse(s.name, s.data)
		if err != nil {
			return fmt.Errorf("failed to load catalog: %w", err)
		}
		publish(c)
		<-ctx.Done()
		return nil
	}
	w := &watch{path: s.name, logger: s.logger}
	c, err := w.load()
	if err != nil {
		return fmt.Errorf("failed to load catalog: %w", err)
	}
	publish(c)
	return w.loop(ctx, s.interval(), publish)
}

func (s *Source) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultInterval
}

// watch is the state of one file Source's Run. It is owned by that Run's
// goroutine.
type watch struct {
	path    string
	logger  *slog.Logger
	info    os.FileInfo // at the last read
	readAt  time.Time   // when the last read started
	sum     [sha256.Size]byte
	version string // of the last published catalog
	failing bool   // the file could not be read; already logged
}

// load reads and parses the file for the initial catalog.
func (w *watch) load() (*discovery.Catalog, error) {
	w.readAt = time.Now()
	info, err := os.Stat(w.path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		return nil, err
	}
	w.info, w.sum = info, sha256.Sum256(data)
	c, err := Parse(w.path, data)
	if err != nil {
		return nil, err
	}
	w.version = c.Version()
	return c, nil
}

// loop polls every interval until ctx is done.
func (w *watch) loop(ctx context.Context, interval time.Duration, publish func(*discovery.Catalog)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if c := w.poll(); c != nil {
				publish(c)
			}
		}
	}
}

// poll returns the file's catalog if it changed version since the last
// publish, or nil.
func (w *watch) poll() *discovery.Catalog {
	now := time.Now()
	info, err := os.Stat(w.path)
	if err != nil {
		w.unavailable(err)
		return nil
	}
	if w.unchanged(info) {
		return nil
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		w.unavailable(err)
		return nil
	}
	if w.failing {
		w.failing = false
		w.logger.Info("services file is readable again")
	}
	w.info, w.readAt = info, now
	return w.parse(data)
}

// parse returns the catalog in data if its content and version are new.
func (w *watch) parse(data []byte) *discovery.Catalog {
	sum := sha256.Sum256(data)
	if sum == w.sum {
		return nil
	}
	w.sum = sum
	c, err := Parse(w.path, data)
	if err != nil {
		w.logger.Error("invalid services file, keeping the last good catalog", "err", err)
		return nil
	}
	if c.Version() == w.version {
		return nil
	}
	w.version = c.Version()
	w.logger.Info("catalog changed", "version", c.Version())
	return c
}

// unchanged reports whether info proves the file is the one last read. It
// does not when the last read was within racyWindow of the file's mtime.
func (w *watch) unchanged(info os.FileInfo) bool {
	return w.info != nil && os.SameFile(w.info, info) &&
		info.Size() == w.info.Size() && info.ModTime().Equal(w.info.ModTime()) &&
		info.ModTime().Before(w.readAt.Add(-racyWindow))
}

// unavailable logs that the file cannot be read, once until it can be.
func (w *watch) unavailable(err error) {
	if w.failing {
		return
	}
	w.failing = true
	w.logger.Warn("services file unavailable, keeping the last good catalog", "err", err)
}
