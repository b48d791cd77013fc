package route

import (
	"testing"
	"time"

	"github.com/meshlb/meshlb/internal/retryon"
	"github.com/meshlb/meshlb/sidecar/spec"
)

func TestRequestTimeout(t *testing.T) {
	tests := []struct {
		name   string
		grpc   *spec.GRPCTimeout
		header string // grpc-timeout; "" for none
		want   time.Duration
	}{
		{"no rule", nil, "1S", 15 * time.Second},
		{"no header", &spec.GRPCTimeout{}, "", 15 * time.Second},
		{"seconds", &spec.GRPCTimeout{}, "3S", 3 * time.Second},
		{"hours above the route", &spec.GRPCTimeout{}, "2H", 2 * time.Hour},
		{"millis", &spec.GRPCTimeout{}, "250m", 250 * time.Millisecond},
		{"micros", &spec.GRPCTimeout{}, "1500u", 1500 * time.Microsecond},
		{"nanos", &spec.GRPCTimeout{}, "99999999n", 99999999},
		{"minutes capped", &spec.GRPCTimeout{Max: time.Minute}, "5M", time.Minute},
		{"zero means the cap", &spec.GRPCTimeout{Max: time.Minute}, "0S", time.Minute},
		{"offset", &spec.GRPCTimeout{Offset: time.Second}, "3S", 2 * time.Second},
		{"offset floor", &spec.GRPCTimeout{Offset: time.Second}, "1m", time.Millisecond},
		{"nine digits", &spec.GRPCTimeout{}, "123456789S", 15 * time.Second},
		{"bad unit", &spec.GRPCTimeout{}, "3s", 15 * time.Second},
		{"no digits", &spec.GRPCTimeout{}, "S", 15 * time.Second},
		{"sign", &spec.GRPCTimeout{}, "-3S", 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Route{Timeout: 15 * time.Second, GRPCTimeout: tt.grpc}
			req := &Request{}
			if tt.header != "" {
				req.Headers = []Header{{Name: []byte("grpc-timeout"), Value: []byte(tt.header)}}
			}
			if got := r.RequestTimeout(req); got != tt.want {
				t.Errorf("RequestTimeout = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetriesGRPC(t *testing.T) {
	tests := []struct {
		on   []string
		code int
		want bool
	}{
		{[]string{retryon.Cancelled}, 1, true},
		{[]string{retryon.DeadlineExceeded}, 4, true},
		{[]string{retryon.ResourceExhausted}, 8, true},
		{[]string{retryon.Internal}, 13, true},
		{[]string{retryon.Unavailable}, 14, true},
		{[]string{retryon.Unavailable}, 13, false},
		{[]string{retryon.FiveXX, retryon.GatewayError}, 14, false},
		{[]string{retryon.Unavailable, retryon.Internal}, 0, false},
	}
	for _, tt := range tests {
		r := compileRetry(&spec.RetryPolicy{On: tt.on, NumRetries: 1})
		if got := r.RetriesGRPC(tt.code); got != tt.want {
			t.Errorf("retry_on %v, grpc-status %d: RetriesGRPC = %v, want %v", tt.on, tt.code, got, tt.want)
		}
	}
}

func BenchmarkRequestTimeout(b *testing.B) {
	r := &Route{Timeout: 15 * time.Second, GRPCTimeout: &spec.GRPCTimeout{Max: time.Minute}}
	req := &Request{Headers: []Header{{Name: []byte("content-type"), Value: []byte("application/grpc")},
		{Name: []byte("grpc-timeout"), Value: []byte("250m")}}}
	b.ReportAllocs()
	for b.Loop() {
		r.RequestTimeout(req)
	}
}

func TestGRPCStatusFromHTTP(t *testing.T) {
	for code, want := range map[int]int{400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14, 500: 2, 200: 2} {
		if got := GRPCStatusFromHTTP(code); got != want {
			t.Errorf("GRPCStatusFromHTTP(%d) = %d, want %d", code, got, want)
		}
	}
}
