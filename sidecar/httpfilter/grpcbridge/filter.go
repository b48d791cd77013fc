// Package grpcbridge is Envoy's envoy.filters.http.grpc_http1_bridge HTTP
// filter: it lets an HTTP/1.1 client, which cannot read trailers, make a
// unary gRPC call.
//
// For a request over HTTP/1.x whose content-type is gRPC's
// (application/grpc, application/grpc+…, application/grpc;…), the
// response is held whole, bounded by Envoy's default connection buffer
// limit (1 MiB; over it the client gets 500, as from Envoy). When it
// ends, grpc-status and grpc-message are copied from its trailers into
// its head, a grpc-status other than 0 (or not a number) turns the status
// into 503, and the body goes out as it came, framed by a content-length.
// A response without trailers is judged by its head's grpc-status (a
// gRPC trailers-only response); one with none (not gRPC) goes out as it
// came, framed the same way. Requests
// over HTTP/2 and requests that are not gRPC pass untouched.
//
// The filter's options (upgrade_protobuf_to_grpc, ignore_query_parameters)
// are refused by sidecar/config.
package grpcbridge

import (
	"bytes"
	"fmt"

	"github.com/meshlb/meshlb/internal/ascii"
	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// BufferLimit bounds a held response body: Envoy's default
// per_connection_buffer_limit_bytes, the limit its buffering filters
// hold a response to (meshlb does not accept that field).
const BufferLimit = 1 << 20

func init() { httpfilter.Register(builder{}) }

type builder struct{}

func (builder) TypeURL() string { return spec.GRPCHTTP1BridgeType }

// Build compiles a *spec.GRPCHTTP1Bridge.
func (builder) Build(cfg any, _ httpfilter.Env) (httpfilter.Filter, error) {
	if _, ok := cfg.(*spec.GRPCHTTP1Bridge); !ok {
		return nil, fmt.Errorf("grpc_http1_bridge: config is %T, want *spec.GRPCHTTP1Bridge", cfg)
	}
	return &filter{limit: BufferLimit}, nil
}

// filter is the compiled grpc_http1_bridge filter, shared by every
// request of a snapshot; it keeps no per-request state.
type filter struct{ limit int }

var _ httpfilter.ResponseEnder = (*filter)(nil)

// RequestHeaders holds the response of an HTTP/1.x gRPC request.
func (f *filter) RequestHeaders(s *httpfilter.Stream) httpfilter.Status {
	if s.HTTP2 {
		return httpfilter.Continue
	}
	if ct, _ := s.Request.Header("content-type"); isGRPC(ct) {
		s.HoldResponse(f, f.limit)
	}
	return httpfilter.Continue
}

// ResponseEnd copies grpc-status and grpc-message from the trailers into
// the head, and answers 503 for a grpc-status other than 0, as Envoy's
// doResponseTrailers; a response without trailers (gRPC's trailers-only
// one) is judged by the grpc-status of its head.
func (f *filter) ResponseEnd(_ *httpfilter.Stream, r *httpfilter.Response, trailers []route.Header) {
	from := trailers
	if len(trailers) == 0 {
		from = r.Headers
	}
	code, ok := header(from, "grpc-status")
	if !ok {
		return
	}
	if !zero(code) {
		r.Status = 503
	}
	if len(trailers) == 0 {
		return
	}
	r.Headers = set(r.Headers, "grpc-status", code)
	if msg, ok := header(trailers, "grpc-message"); ok {
		r.Headers = set(r.Headers, "grpc-message", msg)
	}
}

// zero reports whether a grpc-status is 0 written in decimal, as
// Envoy's parse of it.
func zero(code []byte) bool {
	if len(code) == 0 {
		return false
	}
	for _, c := range code {
		if c != '0' {
			return false
		}
	}
	return true
}

// isGRPC reports whether a content-type is gRPC's, as Envoy's
// Grpc::Common::hasGrpcContentType.
func isGRPC(ct []byte) bool {
	rest, ok := bytes.CutPrefix(ct, []byte("application/grpc"))
	return ok && (len(rest) == 0 || rest[0] == '+' || rest[0] == ';')
}

// header returns the value of the first field named name (lower case).
func header(hs []route.Header, name string) ([]byte, bool) {
	for i := range hs {
		if ascii.EqualFoldLower(hs[i].Name, name) {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// set sets the field named name (lower case) to value, replacing the
// first of that name or appending it, as Envoy's setGrpcStatus.
func set(hs []route.Header, name string, value []byte) []route.Header {
	for i := range hs {
		if ascii.EqualFoldLower(hs[i].Name, name) {
			hs[i].Value = value
			return hs
		}
	}
	return append(hs, route.Header{Name: []byte(name), Value: value})
}
