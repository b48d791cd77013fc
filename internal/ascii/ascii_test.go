package ascii

import "testing"

func TestEqualFoldLower(t *testing.T) {
	tests := []struct {
		b, lower string
		want     bool
	}{
		{"Content-Length", "content-length", true},
		{"CONTENT-LENGTH", "content-length", true},
		{"content-lengt", "content-length", false},
		{"Content_Length", "content-length", false},
		{"", "", true},
	}
	for _, tc := range tests {
		if got := EqualFoldLower([]byte(tc.b), tc.lower); got != tc.want {
			t.Errorf("EqualFoldLower(%q, %q) = %v, want %v", tc.b, tc.lower, got, tc.want)
		}
	}
}
