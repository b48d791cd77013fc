package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPathRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		path string
		segs []pathSeg
	}{
		{"empty", "", nil},
		{"keys and indexes", "a.b[0][1].c", []pathSeg{{key: "a"}, {key: "b"}, {index: 0, isIndex: true}, {index: 1, isIndex: true}, {key: "c"}}},
		{"quoted key", `m["x.y"].z`, []pathSeg{{key: "m"}, {key: "x.y"}, {key: "z"}}},
		{"at sign", "typed_config.@type", []pathSeg{{key: "typed_config"}, {key: "@type"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parsePath(tt.path)
			if diff := cmp.Diff(tt.segs, got, cmp.AllowUnexported(pathSeg{})); diff != "" {
				t.Errorf("parsePath(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
			if s := formatPath(got); s != tt.path {
				t.Errorf("formatPath = %q, want %q", s, tt.path)
			}
		})
	}
}

func TestJSONPathAt(t *testing.T) {
	const js = `{"a": {"b": [1, {"c": true}], "d": "x"}, "e": []}`
	tests := []struct {
		at   string // the text at the offset
		want string
	}{
		{`"a"`, "a"},
		{`1,`, "a.b[0]"},
		{`"c"`, "a.b[1].c"},
		{`true`, "a.b[1].c"},
		{`"d"`, "a.d"},
		{`"x"`, "a.d"},
		{`"e"`, "e"},
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			off := indexOf(t, js, tt.at)
			if got := formatPath(jsonPathAt([]byte(js), off)); got != tt.want {
				t.Errorf("jsonPathAt(%d) = %q, want %q", off, got, tt.want)
			}
		})
	}
}

func indexOf(t *testing.T, s, sub string) int {
	t.Helper()
	for i := range len(s) - len(sub) + 1 {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	t.Fatalf("%q not in %q", sub, s)
	return 0
}

func TestYAMLLine(t *testing.T) {
	const doc = "a:\n  b:\n  - x: 1\n  - yValue: 2\n    z: &r {q: 1}\n  - *r\n"
	tests := []struct {
		path string
		want int
	}{
		{"a", 1},
		{"a.b[1]", 4},
		{"a.b[1].y_value", 4},
		{"a.b[1].z.q", 5},
		{"a.b[2].q", 5},
		{"a.b[9]", 2},
		{"nope", 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := yamlLine([]byte(doc), parsePath(tt.path)); got != tt.want {
				t.Errorf("yamlLine(%q) = %d, want %d", tt.path, got, tt.want)
			}
		})
	}
}
