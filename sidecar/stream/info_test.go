package stream

import "testing"

func TestFlagsString(t *testing.T) {
	tests := []struct {
		name string
		f    Flags
		want string
	}{
		{"none", 0, "-"},
		{"one", NoRouteFound, "NR"},
		{"several in Envoy's order", UpstreamRetryLimitExceeded | UpstreamConnectionFailure, "UF,URX"},
		{"last", NoClusterFound, "NC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}
