package l7

import (
	"bytes"
	"io"
	"math"

	"github.com/meshlb/meshlb/sidecar/route"
)

// decoder reads an HTTP/1 body with its framing removed (RFC 9112 6.3):
// a length, chunked, or until the connection closes. It is the generic
// body path, for a peer codec that is not HTTP/1; between two HTTP/1
// codecs the body is copied verbatim instead (copyChunked, copyLength).
type decoder struct {
	rd      *reader
	chunked bool
	eof     bool  // close-delimited
	left    int64 // bytes left in the body (length) or the current chunk
	inChunk bool  // chunked: a chunk's data was read, its CRLF is next
	done    bool
	// trailers holds the trailer lines, each with its CRLF; reused.
	trailers []byte
}

// start makes d read a body framed by chunked, or length (-1: until the
// connection closes).
func (d *decoder) start(rd *reader, chunked bool, length int64) {
	*d = decoder{rd: rd, chunked: chunked, trailers: d.trailers[:0]}
	switch {
	case chunked:
	case length < 0:
		d.eof, d.left = true, math.MaxInt64
	default:
		d.left = length
	}
	d.done = !chunked && length == 0
}

// Read implements io.Reader: body bytes, then io.EOF once the body (and
// any trailers) has been read whole. A failure to read from the
// connection is a [sourceError]; broken framing is errBadChunk.
func (d *decoder) Read(p []byte) (int, error) {
	for {
		switch {
		case d.done:
			return 0, io.EOF
		case d.left > 0:
			return d.data(p)
		case !d.chunked:
			d.done = true
		case d.inChunk:
			if err := d.crlf(); err != nil {
				return 0, err
			}
			d.inChunk = false
		default:
			if err := d.chunkHead(); err != nil {
				return 0, err
			}
		}
	}
}

// whole reports whether the body has been read whole: a length-framed
// body with no byte left, so the next Read returns io.EOF.
func (d *decoder) whole() bool { return d.done || !d.chunked && !d.eof && d.left == 0 }

// data reads body bytes of the current chunk or length.
func (d *decoder) data(p []byte) (int, error) {
	rd := d.rd
	if len(rd.buffered()) == 0 {
		if err := rd.fill(); err != nil {
			if d.eof && err == io.EOF {
				d.done = true
				return 0, io.EOF
			}
			return 0, &sourceError{Err: unexpectedEOF(err)}
		}
	}
	b := rd.buffered()
	if int64(len(b)) > d.left {
		b = b[:d.left]
	}
	n := copy(p, b)
	rd.discard(n)
	if !d.eof {
		d.left -= int64(n)
	}
	return n, nil
}

// chunkHead reads a chunk-size line, and the trailers after the last chunk.
func (d *decoder) chunkHead() error {
	line, err := readLine(nil, d.rd)
	if err != nil {
		return err
	}
	size, err := chunkSize(line)
	if err != nil {
		return err
	}
	d.rd.discard(len(line) + 2)
	if size > 0 {
		d.left, d.inChunk = size, true
		return nil
	}
	for {
		line, err := readLine(nil, d.rd)
		if err != nil {
			return err
		}
		if len(line) > 0 && !validTrailer(line) {
			return errBadChunk
		}
		d.trailers = append(d.trailers, d.rd.buffered()[:len(line)+2]...)
		d.rd.discard(len(line) + 2)
		if len(line) == 0 {
			d.done = true
			return nil
		}
	}
}

// crlf reads the CRLF after a chunk's data.
func (d *decoder) crlf() error {
	line, err := readLine(nil, d.rd)
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return errBadChunk
	}
	d.rd.discard(2)
	return nil
}

// Trailers appends the trailer fields read to dst; they point into d and
// stay valid until d starts another body.
func (d *decoder) Trailers(dst []route.Header) []route.Header {
	for b := d.trailers; len(b) > 0; {
		i := bytes.Index(b, crlf)
		line := b[:i]
		b = b[i+2:]
		if colon := bytes.IndexByte(line, ':'); colon > 0 {
			dst = append(dst, route.Header{Name: line[:colon], Value: trimOWS(line[colon+1:])})
		}
	}
	return dst
}
