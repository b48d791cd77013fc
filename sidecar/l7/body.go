package l7

import (
	"bytes"
	"fmt"
	"io"

	"github.com/meshlb/meshlb/sidecar/forward"
)

// errBadChunk is a chunked body that breaks RFC 9112 7.1 framing.
var errBadChunk = fmt.Errorf("chunked encoding: %w", forward.ErrMalformedBody)

// sourceError is a failure to read a body from the side that sends it
// ([forward.SourceError]).
type sourceError = forward.SourceError

// copyLength copies exactly n body bytes from rd to w. Before it blocks on
// a read it flushes w, so a body streams instead of waiting in the buffer.
func copyLength(w *writer, rd *reader, n int64) error {
	for n > 0 {
		if len(rd.buffered()) == 0 {
			if err := w.flush(); err != nil {
				return err
			}
			if err := rd.fill(); err != nil {
				return &sourceError{Err: unexpectedEOF(err)}
			}
		}
		b := rd.buffered()
		if int64(len(b)) > n {
			b = b[:n]
		}
		if err := w.write(b); err != nil {
			return err
		}
		rd.discard(len(b))
		n -= int64(len(b))
	}
	return nil
}

// copyUntilEOF copies a close-delimited body.
func copyUntilEOF(w *writer, rd *reader) error {
	for {
		if len(rd.buffered()) > 0 {
			if err := w.write(rd.buffered()); err != nil {
				return err
			}
			rd.discard(rd.w - rd.r)
		}
		if err := w.flush(); err != nil {
			return err
		}
		if err := rd.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return &sourceError{Err: err}
		}
	}
}

// copyChunked copies a chunked body verbatim, checking its framing, through
// the last chunk and trailer section.
func copyChunked(w *writer, rd *reader) error {
	for {
		line, err := readLine(w, rd)
		if err != nil {
			return err
		}
		size, err := chunkSize(line)
		if err != nil {
			return err
		}
		if err := w.write(rd.buffered()[:len(line)+2]); err != nil {
			return err
		}
		rd.discard(len(line) + 2)
		if size == 0 {
			return copyTrailers(w, rd)
		}
		if err := copyLength(w, rd, size); err != nil {
			return err
		}
		if err := expectCRLF(w, rd); err != nil {
			return err
		}
	}
}

// readLine makes sure a whole CRLF-terminated line is buffered and returns
// it without the CRLF; it stays buffered. w, unless nil, is flushed before
// a read blocks.
func readLine(w *writer, rd *reader) ([]byte, error) {
	for {
		b := rd.buffered()
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if i == 0 || b[i-1] != '\r' {
				return nil, errBadChunk
			}
			return b[:i-1], nil
		}
		if w != nil {
			if err := w.flush(); err != nil {
				return nil, err
			}
		}
		if err := rd.fill(); err != nil {
			if err == errHeadTooLarge {
				return nil, errBadChunk
			}
			return nil, &sourceError{Err: unexpectedEOF(err)}
		}
	}
}

func expectCRLF(w *writer, rd *reader) error {
	line, err := readLine(w, rd)
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return errBadChunk
	}
	if err := w.write(crlf); err != nil {
		return err
	}
	rd.discard(2)
	return nil
}

// copyTrailers copies trailer fields through the empty line that ends the
// body.
func copyTrailers(w *writer, rd *reader) error {
	for {
		line, err := readLine(w, rd)
		if err != nil {
			return err
		}
		if len(line) > 0 && !validTrailer(line) {
			return errBadChunk
		}
		if err := w.write(rd.buffered()[:len(line)+2]); err != nil {
			return err
		}
		rd.discard(len(line) + 2)
		if len(line) == 0 {
			return nil
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
