// Package accesslog writes access logs as Envoy's file, stdout, stderr
// and gRPC access loggers do: Envoy format strings (text or JSON),
// access log filters, and sinks that write off the request path.
//
// A stream formats its line itself (sidecar/format, no allocation) into
// a pooled buffer and queues it on its sink, which never blocks: a full
// queue drops the line and counts it. One goroutine per sink writes the
// lines. Sinks are opened once per path by a [Sinks], which outlives
// configuration snapshots and is closed by its owner. The last lines
// written are kept for [Recent].
package accesslog

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// queueLen bounds the lines a sink holds before it drops.
const queueLen = 4096

// maxPooledLine is the largest line buffer that goes back to the pool.
const maxPooledLine = 64 << 10

// closeWait bounds how long Close waits for a sink's writer before it
// closes the file under it (a write blocked on a full pipe or a stalled
// disk), and again after.
const closeWait = 2 * time.Second

// Counter returns the counter of a statistic by its full name, created at
// zero (the sidecar's stats registry).
type Counter func(name string) *atomic.Uint64

// Sink writes lines to one file from its own goroutine. Safe for
// concurrent use.
type Sink struct {
	path   string
	queue  chan *[]byte
	stop   chan struct{} // closed by close: write what is queued, then end
	done   chan struct{}
	file   io.WriteCloser
	logger *slog.Logger
	// Dropped counts the lines dropped because the queue was full,
	// Written those written and Failed those whose write failed. The
	// sidecar-wide counters (access_log.file.*) count the same, for all
	// sinks together.
	Dropped, Written, Failed atomic.Uint64
	total                    sinkCounters
}

type sinkCounters struct{ dropped, written, failed *atomic.Uint64 }

var lines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// getLine returns an empty line buffer from the pool.
func getLine() *[]byte {
	b := lines.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

func putLine(b *[]byte) {
	if cap(*b) <= maxPooledLine {
		lines.Put(b)
	}
}

// Write queues line for writing, or drops and counts it when the queue is
// full. It never blocks. The sink owns line afterwards.
func (s *Sink) Write(line *[]byte) {
	select {
	case s.queue <- line:
	default:
		s.Dropped.Add(1)
		s.total.dropped.Add(1)
		putLine(line)
	}
}

// run writes queued lines until stop, flushing whenever the queue is
// empty; at stop it writes what is queued.
func (s *Sink) run() {
	defer close(s.done)
	bw := bufio.NewWriterSize(s.file, 64<<10)
	pending := 0 // lines in bw not yet flushed
	for {
		select {
		case line := <-s.queue:
			bw.Write(*line)
			remember(*line)
			putLine(line)
			pending++
			if len(s.queue) == 0 {
				s.flush(bw, pending)
				pending = 0
			}
		case <-s.stop:
			for len(s.queue) > 0 {
				line := <-s.queue
				bw.Write(*line)
				putLine(line)
				pending++
			}
			s.flush(bw, pending)
			return
		}
	}
}

// flush writes out the n lines bw holds and counts them.
func (s *Sink) flush(bw *bufio.Writer, n int) {
	if err := bw.Flush(); err != nil {
		s.Failed.Add(uint64(n))
		s.total.failed.Add(uint64(n))
		s.logger.Warn("writing access log", "path", s.path, "err", err)
		bw.Reset(s.file) // drop what could not be written
		return
	}
	s.Written.Add(uint64(n))
	s.total.written.Add(uint64(n))
}

// close ends the writer and closes the file. A writer blocked in a write
// for closeWait has its file closed under it, which ends the write.
func (s *Sink) close() {
	close(s.stop)
	select {
	case <-s.done:
		s.file.Close()
		return
	case <-time.After(closeWait):
	}
	s.file.Close()
	select {
	case <-s.done:
	case <-time.After(closeWait):
		s.logger.Warn("access log writer still blocked after its file was closed", "path", s.path)
	}
}

// nopCloser keeps stdout and stderr open.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func openFile(path string) (io.WriteCloser, error) {
	switch path {
	case "/dev/stdout":
		return nopCloser{os.Stdout}, nil
	case "/dev/stderr":
		return nopCloser{os.Stderr}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening access log %q: %w", path, err)
	}
	return f, nil
}

// Sinks are the open sinks by path, and the gRPC access log clients by
// cluster and log name. A path opened by several snapshots or listeners
// shares one sink. Safe for concurrent use.
type Sinks struct {
	logger  *slog.Logger
	counter Counter
	mu      sync.Mutex
	byPath  map[string]*Sink
	grpc    map[grpcKey]GRPCLogger
	openG   GRPCOpener
	closed  bool
}

// NewSinks returns an empty set of sinks logging write errors to logger
// and counting in counter (nil: counters of its own).
func NewSinks(logger *slog.Logger, counter Counter) *Sinks {
	if counter == nil {
		counter = ownCounters()
	}
	return &Sinks{logger: logger.With("component", "access-log"), counter: counter,
		byPath: map[string]*Sink{}, grpc: map[grpcKey]GRPCLogger{}}
}

// ownCounters returns a Counter over counters of its own.
func ownCounters() Counter {
	var mu sync.Mutex
	m := map[string]*atomic.Uint64{}
	return func(name string) *atomic.Uint64 {
		mu.Lock()
		defer mu.Unlock()
		if m[name] == nil {
			m[name] = new(atomic.Uint64)
		}
		return m[name]
	}
}

// Open returns the sink of path, opening it (creating the file, for
// appending) the first time. It stays open until Close, whatever the
// configuration does after.
func (ss *Sinks) Open(path string) (*Sink, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, fmt.Errorf("opening access log %q: the sinks are closed", path)
	}
	if s := ss.byPath[path]; s != nil {
		return s, nil
	}
	w, err := openFile(path)
	if err != nil {
		return nil, err
	}
	s := &Sink{path: path, queue: make(chan *[]byte, queueLen), stop: make(chan struct{}), done: make(chan struct{}), file: w,
		logger: ss.logger, total: sinkCounters{dropped: ss.counter("access_log.file.dropped"),
			written: ss.counter("access_log.file.written"), failed: ss.counter("access_log.file.write_failed")}}
	go s.run()
	ss.byPath[path] = s
	return s, nil
}

// Close writes what the sinks hold, closes their files and connections,
// and waits for their goroutines (see [Sink] for one that is blocked).
// Lines written after Close are dropped.
func (ss *Sinks) Close() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	for path, s := range ss.byPath {
		s.close()
		delete(ss.byPath, path)
	}
	for k, g := range ss.grpc {
		g.Close()
		delete(ss.grpc, k)
	}
}
