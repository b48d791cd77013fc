package accesslog

import (
	"testing"
	"time"

	"github.com/meshlb/meshlb/sidecar/route"
	"github.com/meshlb/meshlb/sidecar/spec"
	"github.com/meshlb/meshlb/sidecar/stream"
)

func cmpFilter(k spec.AccessLogFilterKind, op spec.CompareOp, v uint32) spec.AccessLogFilter {
	return spec.AccessLogFilter{Kind: k, Op: op, Value: v}
}

// TestFilters shows every access log filter taking and refusing a
// request.
func TestFilters(t *testing.T) {
	status := func(op spec.CompareOp, v uint32) spec.AccessLogFilter { return cmpFilter(spec.StatusCodeFilter, op, v) }
	header := func(name, value string, invert bool) spec.AccessLogFilter {
		return spec.AccessLogFilter{Kind: spec.HeaderFilter, Header: spec.HeaderMatch{Name: name, Invert: invert,
			Match: spec.StringMatch{Kind: spec.MatchExact, Value: value}}}
	}
	grpc := func(exclude bool, codes ...int) spec.AccessLogFilter {
		return spec.AccessLogFilter{Kind: spec.GRPCStatusFilter, GRPCStatuses: codes, Exclude: exclude}
	}
	ok200 := stream.Info{Code: 200, Total: 30 * time.Millisecond, Endpoint: "e"}
	fail := stream.Info{Code: 503, Total: 5 * time.Millisecond, Flags: stream.UpstreamConnectionFailure | stream.UpstreamRetryLimitExceeded}
	tests := []struct {
		name    string
		filter  spec.AccessLogFilter
		info    stream.Info
		headers []route.Header // request headers (x-env: prod in the default)
		resp    []route.Header
		trail   []route.Header
		want    bool
	}{
		{"status eq", status(spec.CompareEQ, 200), ok200, nil, nil, nil, true},
		{"status eq other", status(spec.CompareEQ, 503), ok200, nil, nil, nil, false},
		{"status ge", status(spec.CompareGE, 500), fail, nil, nil, nil, true},
		{"status ge below", status(spec.CompareGE, 500), ok200, nil, nil, nil, false},
		{"status le", status(spec.CompareLE, 299), ok200, nil, nil, nil, true},
		{"status ne", status(spec.CompareNE, 200), ok200, nil, nil, nil, false},
		{"duration ge", cmpFilter(spec.DurationFilter, spec.CompareGE, 20), ok200, nil, nil, nil, true},
		{"duration ge short", cmpFilter(spec.DurationFilter, spec.CompareGE, 20), fail, nil, nil, nil, false},
		{"duration le", cmpFilter(spec.DurationFilter, spec.CompareLE, 5), fail, nil, nil, nil, true},
		{"not health check", spec.AccessLogFilter{Kind: spec.NotHealthCheckFilter}, ok200, nil, nil, nil, true},
		{"traceable", spec.AccessLogFilter{Kind: spec.TraceableFilter}, ok200, nil, nil, nil, false},
		{"runtime 100%", spec.AccessLogFilter{Kind: spec.RuntimeFilter, Fraction: spec.Fraction{Numerator: 100, Denominator: 100}}, ok200, nil, nil, nil, true},
		{"runtime 0%", spec.AccessLogFilter{Kind: spec.RuntimeFilter, Fraction: spec.Fraction{Numerator: 0, Denominator: 100}}, ok200, nil, nil, nil, false},
		{"and all", spec.AccessLogFilter{Kind: spec.AndFilter, Children: []spec.AccessLogFilter{status(spec.CompareGE, 200), status(spec.CompareLE, 299)}}, ok200, nil, nil, nil, true},
		{"and one fails", spec.AccessLogFilter{Kind: spec.AndFilter, Children: []spec.AccessLogFilter{status(spec.CompareGE, 200), status(spec.CompareLE, 199)}}, ok200, nil, nil, nil, false},
		{"or one", spec.AccessLogFilter{Kind: spec.OrFilter, Children: []spec.AccessLogFilter{status(spec.CompareEQ, 404), status(spec.CompareEQ, 200)}}, ok200, nil, nil, nil, true},
		{"or none", spec.AccessLogFilter{Kind: spec.OrFilter, Children: []spec.AccessLogFilter{status(spec.CompareEQ, 404), status(spec.CompareEQ, 503)}}, ok200, nil, nil, nil, false},
		{"header exact", header("x-env", "prod", false), ok200, nil, nil, nil, true},
		{"header other value", header("x-env", "dev", false), ok200, nil, nil, nil, false},
		{"header inverted", header("x-env", "dev", true), ok200, nil, nil, nil, true},
		{"header absent", header("x-none", "a", false), ok200, nil, nil, nil, false},
		{"header pseudo", header(":method", "GET", false), ok200, nil, nil, nil, true},
		{"flags any", spec.AccessLogFilter{Kind: spec.ResponseFlagFilter}, fail, nil, nil, nil, true},
		{"flags any, none set", spec.AccessLogFilter{Kind: spec.ResponseFlagFilter}, ok200, nil, nil, nil, false},
		{"flags listed", spec.AccessLogFilter{Kind: spec.ResponseFlagFilter, Flags: []string{"NR", "URX"}}, fail, nil, nil, nil, true},
		{"flags not listed", spec.AccessLogFilter{Kind: spec.ResponseFlagFilter, Flags: []string{"NR", "UH"}}, fail, nil, nil, nil, false},
		{"flags never raised", spec.AccessLogFilter{Kind: spec.ResponseFlagFilter, Flags: []string{"UAEX"}}, fail, nil, nil, nil, false},
		{"grpc trailer", grpc(false, 14), ok200, nil, nil, []route.Header{{Name: []byte("grpc-status"), Value: []byte("14")}}, true},
		{"grpc trailer other", grpc(false, 0), ok200, nil, nil, []route.Header{{Name: []byte("grpc-status"), Value: []byte("14")}}, false},
		{"grpc head (trailers-only)", grpc(false, 5), ok200, nil, []route.Header{{Name: []byte("Grpc-Status"), Value: []byte("5")}}, nil, true},
		{"grpc from http 503", grpc(false, 14), fail, nil, nil, nil, true},
		{"grpc 200 without status is unknown", grpc(false, 2), ok200, nil, nil, nil, true},
		{"grpc exclude", grpc(true, 0), ok200, nil, nil, []route.Header{{Name: []byte("grpc-status"), Value: []byte("0")}}, false},
		{"grpc exclude other", grpc(true, 0), ok200, nil, nil, []route.Header{{Name: []byte("grpc-status"), Value: []byte("13")}}, true},
		{"grpc malformed is unknown", grpc(false, 2), ok200, nil, nil, []route.Header{{Name: []byte("grpc-status"), Value: []byte("x")}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Set{}
			f, err := s.compileFilter(&tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if s.wantGRPC {
				s.addNames(grpcStatusNames)
			}
			var c Capture
			s.Request(&c, &route.Request{Method: []byte("GET"), Path: []byte("/"),
				Headers: append([]route.Header{{Name: []byte("x-env"), Value: []byte("prod")}}, tc.headers...)})
			s.Response(&c, tc.resp)
			s.Trailers(&c, tc.trail)
			if got := f.match(&tc.info, &c); got != tc.want {
				t.Errorf("match = %t, want %t", got, tc.want)
			}
		})
	}
}

// TestFilterTCP: a TCP connection has no headers and no status.
func TestFilterTCP(t *testing.T) {
	s := &Set{}
	f, err := s.compileFilter(&spec.AccessLogFilter{Kind: spec.HeaderFilter, Header: spec.HeaderMatch{Name: "a",
		Match: spec.StringMatch{Kind: spec.MatchExact, Value: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.match(&stream.Info{}, nil) {
		t.Error("a header filter matched a TCP connection")
	}
}

func TestFilterErrors(t *testing.T) {
	for _, f := range []spec.AccessLogFilter{
		{Kind: spec.RuntimeFilter},
		{Kind: spec.ResponseFlagFilter, Flags: []string{"XX"}},
		{Kind: spec.AndFilter, Children: []spec.AccessLogFilter{{Kind: spec.ResponseFlagFilter, Flags: []string{"XX"}}}},
		{Kind: 99},
	} {
		if _, err := (&Set{}).compileFilter(&f); err == nil {
			t.Errorf("compileFilter(%+v) = nil error", f)
		}
	}
}
