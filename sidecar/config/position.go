package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pathSeg is one step of a field path: a key, or an index into a list.
type pathSeg struct {
	key     string
	index   int
	isIndex bool
}

// byteOffset turns a 1-based line and column in runes into an offset in b.
func byteOffset(b []byte, line, col int) int {
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return len(b)
		}
		off += i + 1
	}
	for ; col > 1 && off < len(b); col-- {
		_, size := utf8.DecodeRune(b[off:])
		off += size
	}
	return off
}

// jsonFrame is an open object or array while walking JSON.
type jsonFrame struct {
	array   bool
	key     string // object: the current member's key
	n       int    // array: the current element's index
	wantKey bool   // object: the next token is a key or '}'
}

// jsonPathAt returns the path of the last key or value that starts at or
// before offset target in the JSON document js.
func jsonPathAt(js []byte, target int) []pathSeg {
	dec := json.NewDecoder(bytes.NewReader(js))
	var stack []jsonFrame
	var best []pathSeg
	for skipSeparators(js, int(dec.InputOffset())) <= target {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		top := len(stack) - 1
		switch d, _ := tok.(json.Delim); {
		case (d == '}' || d == ']') && top >= 0:
			stack = advance(stack[:top])
		case top >= 0 && stack[top].wantKey:
			stack[top].key, _ = tok.(string)
			stack[top].wantKey = false
			best = framePath(stack)
		case d == '{' || d == '[':
			best = framePath(stack)
			stack = append(stack, jsonFrame{array: d == '[', wantKey: d == '{'})
		default:
			best = framePath(stack)
			stack = advance(stack)
		}
	}
	return best
}

// advance moves the innermost frame past a complete value.
func advance(stack []jsonFrame) []jsonFrame {
	if n := len(stack); n > 0 {
		stack[n-1].n++
		stack[n-1].wantKey = !stack[n-1].array
	}
	return stack
}

func framePath(stack []jsonFrame) []pathSeg {
	path := make([]pathSeg, 0, len(stack))
	for _, f := range stack {
		if f.array {
			path = append(path, pathSeg{index: f.n, isIndex: true})
		} else {
			path = append(path, pathSeg{key: f.key})
		}
	}
	return path
}

func skipSeparators(js []byte, i int) int {
	for i < len(js) && strings.IndexByte(" \t\r\n,:", js[i]) >= 0 {
		i++
	}
	return i
}

// formatPath renders path as "a.b[0]", quoting keys that are not plain
// names: `typed_extension_protocol_options["envoy.x"]`.
func formatPath(path []pathSeg) string {
	var b strings.Builder
	for _, s := range path {
		switch {
		case s.isIndex:
			fmt.Fprintf(&b, "[%d]", s.index)
		case s.key == "" || strings.ContainsAny(s.key, ".[]\""):
			b.WriteString("[" + strconv.Quote(s.key) + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// parsePath is the inverse of formatPath. It stops at anything malformed.
func parsePath(s string) []pathSeg {
	var path []pathSeg
	for s != "" {
		switch s[0] {
		case '.':
			s = s[1:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return path
			}
			inner := s[1:end]
			if k, err := strconv.Unquote(inner); err == nil {
				path = append(path, pathSeg{key: k})
			} else if n, err := strconv.Atoi(inner); err == nil {
				path = append(path, pathSeg{index: n, isIndex: true})
			} else {
				return path
			}
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			path = append(path, pathSeg{key: s[:end]})
			s = s[end:]
		}
	}
	return path
}
