package h2

import (
	"strconv"
	"strings"

	"github.com/meshlb/meshlb/sidecar/forward"
)

// Reply implements [forward.Stream]. A gRPC request gets a trailers-only
// response instead ([grpcStatus]). The stream always ends; the connection
// stays, so it reports true.
func (s *stream) Reply(r forward.LocalReply) bool {
	s.fs.Info.Code, s.status, s.ended, s.wroteHead = r.Code, r.Code, true, true
	status := r.Code
	if s.grpc {
		status = 200
	}
	b := appendStatus(s.hbuf[:0], status)
	for _, line := range r.Headers {
		name, value, _ := strings.Cut(line, ":")
		b = appendFieldString(b, name, strings.TrimSpace(value))
	}
	if s.grpc {
		s.hbuf = appendGRPC(b, r)
		s.queueHeaders(s.hbuf, true)
		return true
	}
	b = appendFieldString(b, "content-type", "text/plain")
	var num [20]byte
	b = appendField(b, []byte("content-length"), strconv.AppendInt(num[:0], int64(len(r.Body)), 10))
	s.hbuf = b
	if s.head || r.Body == "" {
		s.queueHeaders(b, true)
		return true
	}
	s.queueHeaders(b, false)
	s.pending = append(s.pending[:0], r.Body...)
	s.pendOff = 0
	s.sent += int64(len(r.Body))
	s.emit(true)
	return true
}

// appendGRPC appends the fields of a trailers-only response, as Envoy
// answers its local replies to gRPC requests: grpc-status mapped from the
// HTTP status and grpc-message from the body, so a gRPC client sees, say,
// UNAVAILABLE rather than a text error.
func appendGRPC(b []byte, r forward.LocalReply) []byte {
	b = appendFieldString(b, "content-type", "application/grpc")
	b = appendFieldString(b, "grpc-status", strconv.Itoa(grpcStatus(r.Code)))
	if msg := strings.TrimSpace(r.Body); msg != "" {
		b = appendFieldString(b, "grpc-message", grpcMessage(msg))
	}
	return b
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
