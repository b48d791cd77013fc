package l7

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

// decodeAll reads a chunked body from b through the generic decoder. It
// returns the body, the bytes left unread after it, and the error.
func decodeAll(b []byte) (body, rest []byte, err error) {
	c := &sliceConn{data: b}
	rd := &reader{conn: c}
	defer rd.drop()
	var d decoder
	d.start(rd, true, -1)
	body, err = io.ReadAll(io.LimitReader(&d, int64(len(b))+1))
	return body, append(bytes.Clone(rd.buffered()), c.data...), err
}

// copyAll relays a chunked body from b verbatim, as between two HTTP/1
// codecs. It returns the bytes written, the bytes left unread after the
// body, and the error.
func copyAll(b []byte) (out, rest []byte, err error) {
	c := &sliceConn{data: b}
	rd, w := &reader{conn: c}, &writer{conn: &sliceConn{}}
	w.acquire()
	defer w.release()
	defer rd.drop()
	err = copyChunked(w, rd)
	w.flush()
	return w.conn.(*sliceConn).out, append(bytes.Clone(rd.buffered()), c.data...), err
}

// FuzzDecodeChunked checks the generic body decoder against the verbatim
// chunked relay: they accept the same bodies and end them at the same
// byte, and the decoder reads back from the relay's output exactly what
// it read from the input. Either disagreement is a smuggling hazard
// between an HTTP/2 client and an HTTP/1 upstream.
func FuzzDecodeChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("a;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\n"))
	f.Add([]byte("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"))
	f.Add([]byte("5\nhello\n0\n\n"))
	f.Add([]byte("ffffffffffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tm := time.AfterFunc(2*time.Second, func() { panic(fmt.Sprintf("hang on %q", b)) })
		defer tm.Stop()
		body, drest, derr := decodeAll(b)
		out, crest, cerr := copyAll(b)
		if (derr == nil) != (cerr == nil) {
			t.Fatalf("input %q: decoder error %v, relay error %v", b, derr, cerr)
		}
		if derr != nil {
			return
		}
		if !bytes.Equal(drest, crest) {
			t.Fatalf("input %q: decoder left %q, relay left %q", b, drest, crest)
		}
		again, rest, err := decodeAll(out)
		if err != nil || len(rest) != 0 || !bytes.Equal(again, body) {
			t.Fatalf("input %q: decoded %q; the relay's output %q decodes to %q, rest %q, error %v", b, body, out, again, rest, err)
		}
	})
}
