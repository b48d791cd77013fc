package accesslog

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

// Set is the access logs of one HTTP connection manager or TCP proxy in
// one snapshot. Immutable and safe for concurrent use; a nil *Set logs
// nothing.
type Set struct {
	logs []logger
	// names are the header names the logs read, path whether they read
	// the request's :path.
	names format.Names
	path  bool
	// headers are the header filters' matchers, by bit.
	headers  []route.HeaderMatchers
	wantGRPC bool // a grpc_status_filter reads grpc-status
}

// grpcStatusNames are the headers a grpc_status_filter reads.
var grpcStatusNames = format.Names{Response: []string{"grpc-status"}, Trailers: []string{"grpc-status"}}

// logger is one compiled access log.
type logger struct {
	filter filter // nil: everything
	out    writer
}

// writer writes one entry of a logged request or connection. It must not
// block, and should not allocate.
type writer interface {
	write(ctx *format.Context, c *Capture)
}

// Compile builds the set of logs, opening their sinks in sinks; nil for
// none.
func Compile(logs []spec.AccessLog, sinks *Sinks) (*Set, error) {
	if len(logs) == 0 {
		return nil, nil
	}
	s := &Set{}
	for i := range logs {
		l, err := s.compile(&logs[i], sinks)
		if err != nil {
			return nil, fmt.Errorf("access_log[%d]: %w", i, err)
		}
		s.logs = append(s.logs, l)
	}
	if s.wantGRPC {
		s.addNames(grpcStatusNames)
	}
	s.path = slices.Contains(s.names.Request, ":path")
	return s, nil
}

func (s *Set) compile(l *spec.AccessLog, sinks *Sinks) (logger, error) {
	var out logger
	var err error
	if out.filter, err = s.compileFilter(l.Filter); err != nil {
		return out, err
	}
	if l.GRPC != nil {
		g, err := sinks.openGRPC(l.GRPC, l.TCP)
		if err != nil {
			return out, err
		}
		w := newGRPCWriter(g, l.GRPC)
		s.addNames(format.Names{Request: w.request, Response: w.response, Trailers: w.trailers})
		out.out = w
		return out, nil
	}
	fw := &fileWriter{omitEmpty: l.OmitEmpty}
	if l.JSON != nil {
		if fw.json, err = s.compileJSON(l.JSON, !l.OmitEmpty); err != nil {
			return out, fmt.Errorf("json_format: %w", err)
		}
	} else if fw.text, err = s.parse(cmp.Or(l.Format, format.Default), !l.OmitEmpty); err != nil {
		return out, err
	}
	if fw.sink, err = sinks.Open(l.Path); err != nil {
		return out, err
	}
	out.out = fw
	return out, nil
}

// parse compiles a format string and notes the headers it reads.
func (s *Set) parse(f string, text bool) (*format.Format, error) {
	ff, err := format.Parse(f, text)
	if err != nil {
		return nil, err
	}
	s.addNames(ff.Names())
	return ff, nil
}

// addNames records header names the logs read.
func (s *Set) addNames(n format.Names) {
	add := func(to *[]string, names []string) {
		for _, n := range names {
			if !slices.Contains(*to, n) {
				*to = append(*to, n)
			}
		}
	}
	add(&s.names.Request, n.Request)
	add(&s.names.Response, n.Response)
	add(&s.names.Trailers, n.Trailers)
}

// Request captures what the logs read of the request head r into c,
// resetting c. It must run while r is valid, before its body is read; it
// may run again after the head was rewritten.
func (s *Set) Request(c *Capture, r *route.Request) {
	c.request(s.names.Request, s.path, r)
	c.headers = 0
	for i, m := range s.headers {
		if m.Match(r) {
			c.headers |= 1 << i
		}
	}
}

// WantsResponse reports whether the logs read response headers, so a
// response head must go to Response.
func (s *Set) WantsResponse() bool { return s != nil && len(s.names.Response) > 0 }

// Response captures what the logs read of a response head.
func (s *Set) Response(c *Capture, hs []route.Header) { c.fields(&c.resp, s.names.Response, hs) }

// WantsTrailers reports whether the logs read response trailers, so
// they must go to Trailers.
func (s *Set) WantsTrailers() bool { return s != nil && len(s.names.Trailers) > 0 }

// Trailers captures what the logs read of the response trailers.
func (s *Set) Trailers(c *Capture, hs []route.Header) { c.fields(&c.trail, s.names.Trailers, hs) }

// Log writes the entries of the logs whose filters take the stream
// described by info and c (nil for a TCP connection). It does not block;
// with the line pool warm it does not allocate.
func (s *Set) Log(info *stream.Info, c *Capture) {
	var ctx *format.Context
	if c == nil {
		ctx = &format.Context{Info: info} // a TCP connection's: one per connection
	} else {
		ctx = c.context(info)
	}
	for i := range s.logs {
		l := &s.logs[i]
		if l.filter != nil && !l.filter.match(info, c) {
			continue
		}
		l.out.write(ctx, c)
	}
}

// fileWriter formats lines for a file, stdout or stderr sink.
type fileWriter struct {
	text      *format.Format
	json      *jsonFormat
	omitEmpty bool
	sink      *Sink
}

func (w *fileWriter) write(ctx *format.Context, _ *Capture) {
	line := getLine()
	if w.json != nil {
		*line = append(w.json.append(*line, ctx, w.omitEmpty), '\n')
	} else {
		*line = w.text.Append(*line, ctx)
	}
	w.sink.Write(line)
}
