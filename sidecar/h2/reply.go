package h2

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar/forward"
)

// Reply implements [forward.Stream]. A gRPC request gets a trailers-only
// response instead ([grpcStatus]). The stream always ends; the connection
// stays, so it reports true.
func (s *stream) Reply(r forward.LocalReply) bool {
	s.fs.Info.Code, s.status, s.ended = r.Code, r.Code, true
	h := s.w.Header()
	for _, line := range r.Headers {
		name, value, _ := strings.Cut(line, ":")
		h.Add(name, strings.TrimSpace(value))
	}
	if s.grpc {
		s.replyGRPC(r)
		return true
	}
	h.Set("content-type", "text/plain")
	h.Set("content-length", strconv.Itoa(len(r.Body)))
	s.w.WriteHeader(r.Code)
	if s.r.Method != http.MethodHead {
		n, _ := s.w.Write([]byte(r.Body))
		s.sent += int64(n)
	}
	return true
}

// replyGRPC answers a gRPC request with a trailers-only response, as
// Envoy does for its local replies: status 200 and one HEADERS frame
// ending the stream with grpc-status mapped from the HTTP status and
// grpc-message from the body, so a gRPC client sees, say, UNAVAILABLE
// rather than an HTML or text error.
func (s *stream) replyGRPC(r forward.LocalReply) {
	h := s.w.Header()
	h.Set("content-type", "application/grpc")
	h.Set("grpc-status", strconv.Itoa(grpcStatus(r.Code)))
	if msg := strings.TrimSpace(r.Body); msg != "" {
		h.Set("grpc-message", grpcMessage(msg))
	}
	s.w.WriteHeader(http.StatusOK)
}

// gRPC status codes (google.golang.org/grpc/codes).
const (
	grpcUnknown          = 2
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcStatus maps an HTTP status to a gRPC status as Envoy's
// Grpc::Utility::httpToGrpcStatus (and gRPC's "HTTP to gRPC Status Code
// Mapping").
func grpcStatus(code int) int {
	switch code {
	case 400:
		return grpcInternal
	case 401:
		return grpcUnauthenticated
	case 403:
		return grpcPermissionDenied
	case 404:
		return grpcUnimplemented
	case 429, 502, 503, 504:
		return grpcUnavailable
	}
	return grpcUnknown
}

// grpcMessage percent-encodes msg as the gRPC wire format asks for
// grpc-message: bytes outside printable ASCII, and '%'.
func grpcMessage(msg string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < ' ' || c > '~' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
