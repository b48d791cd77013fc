package route

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// PathRewrite is a compiled regex_rewrite. Immutable.
type PathRewrite struct {
	re       *regexp.Regexp
	template string // in regexp.Expand's syntax
}

// compilePathRewrite compiles rw; nil for none. Envoy's substitution
// names groups \1 … \9; they become regexp's ${1} … ${9}.
func compilePathRewrite(rw *spec.RegexRewrite) (*PathRewrite, error) {
	if rw == nil {
		return nil, nil
	}
	re, err := regexp.Compile(rw.Pattern)
	if err != nil {
		return nil, fmt.Errorf("regex_rewrite.pattern: %w", err)
	}
	var t strings.Builder
	sub := rw.Substitution
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		switch {
		case c == '$':
			t.WriteString("$$")
		case c == '\\' && i+1 < len(sub) && sub[i+1] >= '0' && sub[i+1] <= '9':
			if int(sub[i+1]-'0') > re.NumSubexp() {
				return nil, fmt.Errorf("regex_rewrite.substitution: \\%c names no group of the pattern", sub[i+1])
			}
			t.WriteString("${" + string(sub[i+1]) + "}")
			i++
		case c == '\\' && i+1 < len(sub):
			t.WriteByte(sub[i+1])
			i++
		default:
			t.WriteByte(c)
		}
	}
	return &PathRewrite{re: re, template: t.String()}, nil
}

// Rewrite returns path with every match of the pattern replaced, as
// RE2's GlobalReplace does. It allocates.
func (p *PathRewrite) Rewrite(path []byte) []byte {
	return p.re.ReplaceAll(path, []byte(p.template))
}
