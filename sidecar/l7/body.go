package l7

import (
	"bytes"
	"errors"
	"io"
)

// errBadChunk is a chunked body that breaks RFC 9112 7.1 framing.
var errBadChunk = errors.New("malformed chunked encoding")

// sourceError is a failure to read a body from the side that sends it, as
// opposed to a failure to write it on to the other side: the two are
// blamed on different parties (issue 7, item 6).
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "reading body: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// copyLength copies exactly n body bytes from rd to w. Before it blocks on
// a read it flushes w, so a body streams instead of waiting in the buffer.
func copyLength(w *writer, rd *reader, n int64) error {
	for n > 0 {
		if len(rd.buffered()) == 0 {
			if err := w.flush(); err != nil {
				return err
			}
			if err := rd.fill(); err != nil {
				return &sourceError{unexpectedEOF(err)}
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
			return &sourceError{err}
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
// it without the CRLF; it stays buffered.
func readLine(w *writer, rd *reader) ([]byte, error) {
	for {
		b := rd.buffered()
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if i == 0 || b[i-1] != '\r' {
				return nil, errBadChunk
			}
			return b[:i-1], nil
		}
		if err := w.flush(); err != nil {
			return nil, err
		}
		if err := rd.fill(); err != nil {
			if err == errHeadTooLarge {
				return nil, errBadChunk
			}
			return nil, &sourceError{unexpectedEOF(err)}
		}
	}
}

// chunkSize parses a chunk-size line, CRLF excluded: "1*HEXDIG
// [ chunk-ext ]" (RFC 9112 7.1). Anything else is errBadChunk (issue 7,
// item 5): a line an upstream might read differently must not be relayed.
func chunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i == 15 {
			return 0, errBadChunk
		}
		n = n<<4 | int64(d)
	}
	if i == 0 || !validChunkExt(line[i:]) {
		return 0, errBadChunk
	}
	return n, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// validChunkExt reports whether b is a chunk-ext:
//
//	*( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
//
// Trailing BWS is accepted too, as HAProxy and nginx do: it cannot be read
// two ways.
func validChunkExt(b []byte) bool {
	for {
		b = skipBWS(b)
		if len(b) == 0 {
			return true
		}
		if b[0] != ';' {
			return false
		}
		b = skipBWS(b[1:])
		k := tokenLen(b)
		if k == 0 {
			return false
		}
		b = skipBWS(b[k:])
		if len(b) == 0 || b[0] != '=' {
			continue
		}
		b = skipBWS(b[1:])
		if len(b) > 0 && b[0] == '"' {
			k = quotedLen(b)
		} else {
			k = tokenLen(b)
		}
		if k <= 0 {
			return false
		}
		b = b[k:]
	}
}

func skipBWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// tokenLen is the length of the token at the start of b.
func tokenLen(b []byte) int {
	for i, c := range b {
		if !tokenChars[c] {
			return i
		}
	}
	return len(b)
}

// quotedLen is the length of the quoted-string at the start of b, which
// starts with a quote, or -1 if it is not one (RFC 9110 5.6.4).
func quotedLen(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i++; i == len(b) || !qdChar(b[i]) && b[i] != '"' && b[i] != '\\' {
				return -1
			}
		case !qdChar(c):
			return -1
		}
	}
	return -1
}

// qdChar reports whether c is qdtext: HTAB, SP, VCHAR but the quote and
// the backslash, or obs-text.
func qdChar(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (0x23 <= c && c <= 0x7e && c != '\\') || c >= 0x80
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

// validTrailer reports whether line is a well-formed field line.
func validTrailer(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	return colon > 0 && isToken(line[:colon]) && validValue(line[colon+1:])
}
