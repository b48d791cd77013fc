package retryon

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, list string
		want       []string
		wantErr    string
	}{
		{"empty", "", nil, ""},
		{"one", "5xx", []string{"5xx"}, ""},
		{"spaces and empties", " 5xx, connect-failure,,unavailable ", []string{"5xx", "connect-failure", "unavailable"}, ""},
		{"all", "5xx,gateway-error,reset,reset-before-request,connect-failure,retriable-4xx,envoy-ratelimited," +
			"refused-stream,cancelled,deadline-exceeded,internal,resource-exhausted,unavailable",
			[]string{"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
				"envoy-ratelimited", "refused-stream", "cancelled", "deadline-exceeded", "internal",
				"resource-exhausted", "unavailable"}, ""},
		{"one unknown", "5xx,teapot", nil, `condition "teapot" is not supported`},
		{"status codes", "retriable-status-codes,connect-failure", []string{"retriable-status-codes", "connect-failure"}, ""},
		{"several unknown", "teapot,5xx,kettle", nil, `conditions "teapot", "kettle" are not supported`},
		{"case matters", "5XX", nil, `condition "5XX" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.list)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Fatalf("Parse(%q) error = %q, want %q", tt.list, gotErr, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.list, diff)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	for name, want := range map[string]bool{"5xx": true, "unavailable": true, "retriable-status-codes": true, "retriable-headers": false, "": false} {
		if got := Known(name); got != want {
			t.Errorf("Known(%q) = %v, want %v", name, got, want)
		}
	}
}
