package file

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/meshlb/meshlb/discovery"
)

// DefaultInterval is how often a [Source] polls its files when
// [Source.Interval] is zero and it cannot watch them with inotify.
const DefaultInterval = 250 * time.Millisecond

// DefaultMaxBytes bounds the total size of a Source's files when
// [Source.MaxBytes] is zero. Parsing costs about 40 times the file's size
// in memory, so a 16 MiB file costs about 700 MB while it is parsed.
const DefaultMaxBytes = 16 << 20

// notifyResync is the shortest interval of the safety poll while inotify
// watches the files: network filesystems deliver no events for writes made
// on other hosts, and a watch is lost when its directory is replaced.
const notifyResync = 5 * time.Second

// notifyDelay is how long a Source waits after an event for the burst it
// belongs to (an editor's write, rename and chmod) to end before it reads.
const notifyDelay = 20 * time.Millisecond

// Source is a [discovery.Source] that serves services.yaml files, or static
// data from [NewStatic].
//
// A services file may be split: each path given is a file or a directory,
// whose *.yaml and *.yml files (not hidden ones, not in subdirectories) are
// read in name order. The files are merged into one catalog; a service name
// or sidecar id declared twice, or an upstream naming an unknown service, is
// an error naming both files and lines.
//
// On Linux the Source watches the files' directories with inotify and reads
// a file as soon as it is written, renamed or removed; it also polls every
// max(Interval, 5s) in case an event is missed. Without inotify (another
// OS, the watch limit reached, or Poll set) it polls every Interval. A poll
// compares each file's identity, mtime and size, and its content's hash
// when those leave doubt, so only changed files are read and parsed again.
// Within a changed file of the plain layout ("services:" then a block list
// of items, no anchors), only the items whose text changed are decoded
// again; any other file is decoded whole.
// It publishes only when the catalog's version changes. An invalid edit, a
// missing file or files over MaxBytes keep the last good catalog and are
// logged once until the content changes again.
//
// Fields must not change while Run is running. Run may be called more than
// once, even concurrently; each call has its own state.
type Source struct {
	// Interval is how often Run polls without inotify; zero means
	// DefaultInterval. Static sources ignore it.
	Interval time.Duration
	// Poll disables inotify: Run polls every Interval.
	Poll bool
	// MaxBytes bounds the total size of the files; zero means
	// DefaultMaxBytes. Larger files are not read.
	MaxBytes int64

	paths  []string // files or directories
	name   string   // of static data, in errors
	data   []byte   // static data
	static bool
	logger *slog.Logger
}

var _ discovery.Source = (*Source)(nil)

// New returns a Source that watches path, a services.yaml file or a
// directory of them. A nil logger means [slog.Default].
func New(path string, logger *slog.Logger) *Source { return NewPaths([]string{path}, logger) }

// NewPaths returns a Source that watches the services files and
// directories in paths, merged in that order. paths must not be empty. A
// nil logger means [slog.Default].
func NewPaths(paths []string, logger *slog.Logger) *Source {
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{paths: slices.Clone(paths), logger: logger.With("component", "discovery-file")}
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
//
// A catalog with a mesh section is published with its secrets: the roots
// of the CA it names (loaded, or generated into its state_dir or in
// memory) and a leaf per sidecar, issued for [LeafTTL] and renewed at half
// life. A CA that cannot be loaded keeps the last good catalog.
func (s *Source) Run(ctx context.Context, publish func(*discovery.Catalog)) error {
	logger := s.logger
	if logger == nil {
		logger = slog.Default()
	}
	return runIssuer(ctx, logger, publish, func(publish func(*discovery.Catalog)) error {
		return s.run(ctx, publish)
	})
}

func (s *Source) run(ctx context.Context, publish func(*discovery.Catalog)) error {
	if s.static {
		c, err := Parse(s.name, s.data)
		if err != nil {
			return fmt.Errorf("failed to load catalog: %w", err)
		}
		publish(c)
		<-ctx.Done()
		return nil
	}
	w := newWatch(s.paths, s.maxBytes(), s.logger)
	var n *notifier
	if !s.Poll {
		var err error
		if n, err = newNotifier(); err != nil {
			s.logger.Info("watching services files by polling", "interval", s.interval(), "reason", err)
		} else {
			defer n.close()
			n.watch(w.dirs(), s.logger)
		}
	}
	c, err := w.load()
	if err != nil {
		return fmt.Errorf("failed to load catalog: %w", err)
	}
	if n != nil {
		n.watch(w.dirs(), s.logger) // with the directories of linked files
	}
	publish(c)
	return w.loop(ctx, n, s.interval(), publish)
}

func (s *Source) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultInterval
}

func (s *Source) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultMaxBytes
}
