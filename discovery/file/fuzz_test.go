package file

import (
	"regexp"
	"testing"
)

var located = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*: `)

// FuzzParse checks that Parse never panics and that every error it returns
// is located.
func FuzzParse(f *testing.F) {
	f.Add(Default)
	for _, s := range []string{
		"services: []\n",
		"services:\n  - name: a\n    sidecar: {upstreams: [{service: a, bind_port: 1}]}\n",
		"services: &s [*s]\n",
		"services:\n  - {name: a, endpoints: [&e {address: '::1', port: 1}, *e]}\n",
		"a: b: c",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !located.MatchString(err.Error()) {
				t.Errorf("error %q has no file:line", err)
			}
			return
		}
		if c == nil {
			t.Fatal("Parse() = nil, nil")
		}
	})
}
