package grpcbridge

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meshlb/meshlb/sidecar/httpfilter"
	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func hs(kv ...string) []route.Header {
	var out []route.Header
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, route.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

// text returns hs as name/value strings, for comparing.
func text(h []route.Header) [][2]string {
	var out [][2]string
	for _, f := range h {
		out = append(out, [2]string{string(f.Name), string(f.Value)})
	}
	return out
}

func compile(t *testing.T) *httpfilter.Chain {
	t.Helper()
	ch, err := httpfilter.Compile([]spec.HTTPFilter{{Name: "b", TypeURL: spec.GRPCHTTP1BridgeType, Config: &spec.GRPCHTTP1Bridge{}}},
		nil, httpfilter.Env{Scope: "l", State: new(httpfilter.State).Next()})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestHolds(t *testing.T) {
	ch := compile(t)
	for _, tc := range []struct {
		name        string
		contentType string
		http2       bool
		want        bool
	}{
		{"grpc over HTTP/1.1", "application/grpc", false, true},
		{"grpc+proto", "application/grpc+proto", false, true},
		{"grpc with parameters", "application/grpc;charset=utf-8", false, true},
		{"grpc over HTTP/2", "application/grpc", true, false},
		{"grpc-web is not grpc", "application/grpc-web", false, false},
		{"json", "application/json", false, false},
		{"no content-type", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &route.Request{Method: []byte("POST"), Path: []byte("/s/M")}
			if tc.contentType != "" {
				req.Headers = hs("content-type", tc.contentType)
			}
			var s httpfilter.Stream
			s.Reset(req, nil)
			s.HTTP2 = tc.http2
			if st := ch.RequestHeaders(&s, -1); st != httpfilter.Continue {
				t.Fatalf("RequestHeaders = %v", st)
			}
			e, limit := s.HeldResponse()
			if got := e != nil; got != tc.want {
				t.Fatalf("held = %v, want %v", got, tc.want)
			}
			if tc.want && limit != BufferLimit {
				t.Errorf("limit = %d, want %d", limit, BufferLimit)
			}
		})
	}
}

func TestResponseEnd(t *testing.T) {
	f := &filter{limit: BufferLimit}
	for _, tc := range []struct {
		name       string
		status     int
		head       []route.Header
		trailers   []route.Header
		wantStatus int
		wantHead   []route.Header
	}{
		{"ok", 200, hs("content-type", "application/grpc"), hs("grpc-status", "0"),
			200, hs("content-type", "application/grpc", "grpc-status", "0")},
		{"failed", 200, hs("content-type", "application/grpc"), hs("grpc-status", "5", "grpc-message", "not found"),
			503, hs("content-type", "application/grpc", "grpc-status", "5", "grpc-message", "not found")},
		{"unparsable status", 200, nil, hs("grpc-status", "x"), 503, hs("grpc-status", "x")},
		{"replaces the head's", 200, hs("grpc-status", "0"), hs("grpc-status", "13"), 503, hs("grpc-status", "13")},
		{"trailers-only failed", 200, hs("content-type", "application/grpc", "grpc-status", "14", "grpc-message", "down"), nil,
			503, hs("content-type", "application/grpc", "grpc-status", "14", "grpc-message", "down")},
		{"trailers-only ok", 200, hs("grpc-status", "0"), nil, 200, hs("grpc-status", "0")},
		{"not grpc", 404, hs("content-type", "text/plain"), nil, 404, hs("content-type", "text/plain")},
		{"trailers without status", 200, nil, hs("x-t", "1"), 200, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &httpfilter.Response{Status: tc.status, Headers: tc.head}
			f.ResponseEnd(nil, r, tc.trailers)
			if r.Status != tc.wantStatus {
				t.Errorf("status = %d, want %d", r.Status, tc.wantStatus)
			}
			if diff := cmp.Diff(text(tc.wantHead), text(r.Headers)); diff != "" {
				t.Errorf("head (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildRefusesOtherConfig(t *testing.T) {
	if _, err := (builder{}).Build(&spec.GRPCStats{}, httpfilter.Env{}); err == nil {
		t.Error("Build(*spec.GRPCStats) did not fail")
	}
}
