package forward

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in               string
		normalize, merge bool
		want             string
	}{
		{"/a/b/c", true, true, "/a/b/c"},
		{"/a/./b/../c", true, false, "/a/c"},
		{"/a/b/..", true, false, "/a/"},
		{"/a/b/.", true, false, "/a/b/"},
		{"/../../etc/passwd", true, false, "/etc/passwd"},
		{"/..", true, false, "/"},
		{"/%2e%2E/admin", true, false, "/admin"},
		{"/api/%7euser/%41%2f%3a", true, false, "/api/~user/A%2F%3A"},
		{"/a//b///c", true, false, "/a//b///c"},
		{"/a//b///c", false, true, "/a/b/c"},
		{"/a//./..//b//", true, true, "/b/"},
		{"/a/./b", false, true, "/a/./b"},
		{"/%zz/%4", true, true, "/%zz/%4"},
		{"*", true, true, "*"},
		{"/", true, true, "/"},
	}
	for _, tc := range tests {
		got := string(NormalizePath([]byte(tc.in), tc.normalize, tc.merge))
		if got != tc.want {
			t.Errorf("NormalizePath(%q, normalize %v, merge %v) = %q, want %q", tc.in, tc.normalize, tc.merge, got, tc.want)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/a/./b/../c", "/%2e%2e//x", "//", "/a%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) == 0 || s[0] != '/' {
			return
		}
		once := string(NormalizePath([]byte(s), true, true))
		if len(once) == 0 || once[0] != '/' || len(once) > len(s) {
			t.Fatalf("NormalizePath(%q) = %q", s, once)
		}
		// Escapes are decoded once (decoding twice would let "%252e"
		// become a dot segment), so the result need not be a fixed point,
		// but it has no dot segments and no empty ones.
		for _, seg := range strings.Split(once[1:], "/")[:max(0, strings.Count(once, "/")-1)] {
			if seg == "." || seg == ".." || seg == "" {
				t.Fatalf("NormalizePath(%q) = %q keeps segment %q", s, once, seg)
			}
		}
		if strings.HasSuffix(once, "/.") || strings.HasSuffix(once, "/..") {
			t.Fatalf("NormalizePath(%q) = %q ends in a dot segment", s, once)
		}
	})
}

func BenchmarkNormalizePath(b *testing.B) {
	src := []byte("/api//v1/./users/%7eme/../list")
	buf := make([]byte, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, src)
		NormalizePath(buf, true, true)
	}
}
