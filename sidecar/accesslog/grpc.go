package accesslog

import (
	"fmt"
	"sync"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Entry is one gRPC access log entry as the request path copies it: the
// stream's info and the header fields the log sends, so that the
// client's goroutine builds the protobuf message off the request path.
// Entries are pooled: [NewEntry] and [PutEntry].
type Entry struct {
	Info stream.Info
	// Request, Response and Trailers are the fields logged (lower-case
	// names; ":path" is the path and query). Values point into buf.
	Request, Response, Trailers []Field
	buf                         []byte
}

// Field is one header field of an entry.
type Field struct {
	Name  string
	Value []byte
}

var entries = sync.Pool{New: func() any { return new(Entry) }}

// NewEntry returns an empty entry from the pool.
func NewEntry() *Entry {
	e := entries.Get().(*Entry)
	e.Request, e.Response, e.Trailers, e.buf = e.Request[:0], e.Response[:0], e.Trailers[:0], e.buf[:0]
	return e
}

// PutEntry returns e to the pool; e must not be used after.
func PutEntry(e *Entry) {
	if cap(e.buf) <= maxPooledLine {
		entries.Put(e)
	}
}

// GRPCLogger sends entries to an access log service. Write must not
// block: when the logger cannot keep up it drops the entry (returning it
// to the pool) and counts it. Close stops it and waits for it, bounded.
type GRPCLogger interface {
	Write(e *Entry)
	Close()
}

// GRPCOpener opens the logger of an http_grpc (tcp false) or tcp_grpc
// access log. The sidecar provides it; nil leaves gRPC access logs
// unsupported.
type GRPCOpener func(l *spec.GRPCAccessLog, tcp bool) (GRPCLogger, error)

type grpcKey struct {
	cluster, logName string
	tcp              bool
}

// SetGRPC sets the opener of gRPC access loggers. It must be called
// before the first Compile.
func (ss *Sinks) SetGRPC(open GRPCOpener) { ss.openG = open }

// openGRPC returns the logger of l, opening it the first time. Loggers
// with the same cluster, log name and kind are shared.
func (ss *Sinks) openGRPC(l *spec.GRPCAccessLog, tcp bool) (GRPCLogger, error) {
	if ss.openG == nil {
		return nil, fmt.Errorf("gRPC access logs are not available")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	k := grpcKey{l.Cluster, l.LogName, tcp}
	if g := ss.grpc[k]; g != nil {
		return g, nil
	}
	g, err := ss.openG(l, tcp)
	if err != nil {
		return nil, fmt.Errorf("opening gRPC access log %q to cluster %q: %w", l.LogName, l.Cluster, err)
	}
	ss.grpc[k] = g
	return g, nil
}

// grpcRequestNames are the request headers an HTTP entry carries
// (Envoy's HTTPRequestProperties).
var grpcRequestNames = []string{":method", ":scheme", ":authority", ":path", "user-agent", "referer",
	"x-forwarded-for", "x-request-id", "x-envoy-original-path"}

// grpcWriter copies a stream's entry for a gRPC logger.
type grpcWriter struct {
	logger             GRPCLogger
	request            []string // grpcRequestNames and the additional ones
	response, trailers []string
}

func newGRPCWriter(g GRPCLogger, l *spec.GRPCAccessLog) *grpcWriter {
	w := &grpcWriter{logger: g, response: l.ResponseHeaders, trailers: l.ResponseTrailers}
	w.request = append(append(w.request, grpcRequestNames...), l.RequestHeaders...)
	return w
}

func (w *grpcWriter) write(ctx *format.Context, _ *Capture) {
	e := NewEntry()
	e.Info = *ctx.Info
	e.Request = e.copy(e.Request, ctx.Request, w.request)
	e.Response = e.copy(e.Response, ctx.Response, w.response)
	e.Trailers = e.copy(e.Trailers, ctx.Trailers, w.trailers)
	w.logger.Write(e)
}

// copy appends the fields of h named names to dst, their values copied
// into e.buf.
func (e *Entry) copy(dst []Field, h format.Headers, names []string) []Field {
	if h == nil {
		return dst
	}
	n := len(dst)
	var starts [32]int
	for _, name := range names {
		var v []byte
		var ok bool
		if pq, isPQ := h.(format.PathQuerier); isPQ && name == ":path" {
			p, q := pq.PathQuery()
			v, ok = appendPathQuery(e.buf[len(e.buf):], p, q), p != nil
		} else {
			v, ok = h.Header(name)
		}
		if !ok || len(dst)-n >= len(starts) {
			continue
		}
		starts[len(dst)-n] = len(e.buf)
		e.buf = append(e.buf, v...)
		dst = append(dst, Field{Name: name})
	}
	for i := n; i < len(dst); i++ { // e.buf is final now
		end := len(e.buf)
		if i+1 < len(dst) {
			end = starts[i+1-n]
		}
		dst[i].Value = e.buf[starts[i-n]:end]
	}
	return dst
}

func appendPathQuery(dst, path, query []byte) []byte {
	dst = append(dst, path...)
	if query != nil {
		dst = append(append(dst, '?'), query...)
	}
	return dst
}
