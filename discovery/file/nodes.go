package file

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineError is a services.yaml error located at a line. It prints as
// "file:line: path: message", or "file:line: message" when path is empty.
type lineError struct {
	file string
	line int
	path string
	msg  string
	err  error // cause, if any
}

func (e *lineError) Error() string {
	loc := fmt.Sprintf("%s:%d: ", e.file, e.line)
	if e.path != "" {
		loc += e.path + ": "
	}
	return loc + e.msg
}

func (e *lineError) Unwrap() error { return e.err }

// field is one key: value pair of a YAML mapping; path names the value.
type field struct {
	key   string
	line  int // of the key
	value *yaml.Node
	path  string
}

// failAt returns an error at line for the value at path.
func (d *decoder) failAt(line int, path, format string, args ...any) error {
	return &lineError{file: d.name, line: line, path: path, msg: fmt.Sprintf(format, args...)}
}

// fail returns an error at n's line for the value at path.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) error {
	return d.failAt(n.Line, path, format, args...)
}

// deref follows one alias. Anchors may refer to their own ancestors, so
// callers never recurse deeper than the fixed schema.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// fields returns the pairs of mapping n in document order. Keys must be
// plain strings and appear once.
func (d *decoder) fields(n *yaml.Node, path string) ([]field, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, d.fail(n, path, "expected a mapping, got %s", describe(n))
	}
	seen := make(map[string]int, len(n.Content)/2)
	out := make([]field, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.ShortTag() == "!!merge" {
			return nil, d.fail(k, join(path, k.Value), "merge keys are not supported")
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return nil, d.fail(k, path, "mapping keys must be strings, got %s", describe(k))
		}
		p := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			return nil, d.fail(k, p, "duplicate key (first at line %d)", line)
		}
		seen[k.Value] = k.Line
		out = append(out, field{key: k.Value, line: k.Line, value: n.Content[i+1], path: p})
	}
	return out, nil
}

// unknown is the error for a key that the schema does not have.
func (d *decoder) unknown(f field, known []string) error {
	return d.failAt(f.line, f.path, "unknown field, expected one of %s", strings.Join(known, ", "))
}

// missing is the error for a required key absent from mapping n.
func (d *decoder) missing(n *yaml.Node, path, key string) error {
	return d.fail(deref(n), path, "missing required field %q", key)
}

// sequence returns the items of list n.
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, d.fail(n, path, "expected a list, got %s", describe(n))
	}
	return n.Content, nil
}

// str returns the string value of f.
func (d *decoder) str(f field) (string, error) {
	n := deref(f.value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", d.fail(n, f.path, "expected a string, got %s", describe(n))
	}
	return n.Value, nil
}

// intIn returns the integer value of f, which must lie in [lo, hi].
func (d *decoder) intIn(f field, lo, hi int) (int, error) {
	n := deref(f.value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, d.fail(n, f.path, "expected an integer, got %s", describe(n))
	}
	var v int64
	if err := n.Decode(&v); err != nil || v < int64(lo) || v > int64(hi) {
		return 0, d.fail(n, f.path, "%s is out of range %d-%d", clip(n.Value), lo, hi)
	}
	return int(v), nil
}

// port returns the TCP port in f.
func (d *decoder) port(f field) (int, error) { return d.intIn(f, 1, 65535) }

// ip returns the IP address in f, as written.
func (d *decoder) ip(f field) (string, error) {
	s, err := d.str(f)
	if err != nil {
		return "", err
	}
	if _, perr := netip.ParseAddr(s); perr != nil {
		return "", d.fail(deref(f.value), f.path, "%q is not an IP address", clip(s))
	}
	return s, nil
}

// oneOf returns the string in f, which must be one of values.
func (d *decoder) oneOf(f field, values ...string) (string, error) {
	s, err := d.str(f)
	if err != nil {
		return "", err
	}
	if !slices.Contains(values, s) {
		return "", d.fail(deref(f.value), f.path, "%q is not one of %s", clip(s), strings.Join(values, ", "))
	}
	return s, nil
}

// describe names the type and value of n for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "an alias"
	}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return "null"
	case "!!str":
		return fmt.Sprintf("string %q", clip(n.Value))
	case "!!int":
		return "integer " + clip(n.Value)
	case "!!float":
		return "number " + clip(n.Value)
	case "!!bool":
		return "boolean " + clip(n.Value)
	default:
		return fmt.Sprintf("%s %q", clip(tag), clip(n.Value))
	}
}

// clip shortens s for quoting in a message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
