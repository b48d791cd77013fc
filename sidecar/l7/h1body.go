package l7

import (
	"strconv"

	"github.com/meshlb/meshlb/sidecar/route"
)

// The HTTP/1 server codec's generic body path ([forward.Stream]), used by
// upstream codecs other than HTTP/1's own.

// ReadBody implements [forward.Stream]. The first call consumes the head
// and says 100 Continue if the client waits for it.
func (s *session) ReadBody(p []byte) (int, error) {
	h := &s.head
	if !h.bodyRead {
		h.bodyRead = true
		h.consume(&s.rd)
		if s.bodyless() {
			s.body.start(&s.rd, false, 0)
		} else {
			s.body.start(&s.rd, h.chunked, h.length)
		}
		if h.expect && !s.bodyless() {
			if err := s.out.send(continue100); err != nil {
				return 0, &sourceError{Err: err}
			}
		}
	}
	return s.body.Read(p)
}

// Trailers implements [forward.Stream].
func (s *session) Trailers(dst []route.Header) []route.Header { return s.body.Trailers(dst) }

// WriteBody implements [forward.Stream]: a chunk when the head written
// said Transfer-Encoding: chunked, else the bytes as they are.
func (s *session) WriteBody(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if !s.respChunked {
		return s.out.write(p)
	}
	var size [16]byte
	s.out.write(strconv.AppendInt(size[:0], int64(len(p)), 16))
	s.out.write(crlf)
	s.out.write(p)
	return s.out.write(crlf)
}

// WriteTrailers implements [forward.Stream]: the last chunk and the
// trailer section when the response is chunked; otherwise trailers are
// dropped, as HTTP/1 has no place for them.
func (s *session) WriteTrailers(trailers []route.Header) error {
	if !s.respChunked {
		return nil
	}
	s.out.writeString("0\r\n")
	for _, t := range trailers {
		s.out.write(t.Name)
		s.out.writeString(": ")
		s.out.write(t.Value)
		s.out.writeString("\r\n")
	}
	return s.out.writeString("\r\n")
}

// Flush implements [forward.Stream].
func (s *session) Flush() error { return s.out.flush() }

// chunkedHeader reports whether headers say Transfer-Encoding: chunked.
func chunkedHeader(headers []route.Header) bool {
	for _, h := range headers {
		if equalFold(h.Name, "transfer-encoding") && equalFold(h.Value, "chunked") {
			return true
		}
	}
	return false
}
