package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yamlv3 "gopkg.in/yaml.v3"
)

// yamlErrorLine finds the line in the errors of the YAML parser under
// sigs.k8s.io/yaml, which has no structured error type.
var yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError reports err from parsing YAML as "name:line: message".
func yamlError(name string, err error) error {
	if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
	}
	return fmt.Errorf("%s: %w", name, err)
}

// protojsonPos finds the position protojson puts in its messages. protojson
// has no structured error type, so this matches its text; it is only used
// to add a line number, and a message that does not match keeps none.
var (
	protojsonPos   = regexp.MustCompile(`\(line (\d+):(\d+)\): (.*)$`)
	unresolvedType = regexp.MustCompile(`^unable to resolve ("[^"]*")`)
)

// protojsonError reports err from parsing js (data itself when isJSON, or
// converted from YAML) as "name:line: path: message", with the line in
// data and the path of the offending key in Envoy's field names.
func protojsonError(name string, data, js []byte, isJSON bool, err error) error {
	m := protojsonPos.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	path := jsonPathAt(js, byteOffset(js, line, col))
	if !isJSON {
		line = yamlLine(data, path)
	}
	msg := m[3]
	if !isJSON && strings.HasPrefix(msg, "invalid value for string field ") {
		msg += " (quote the value: YAML reads it as a boolean or number)"
	}
	if u := unresolvedType.FindStringSubmatch(msg); u != nil && len(path) > 0 && path[len(path)-1].key == "@type" {
		path, msg = path[:len(path)-1], "unsupported type "+u[1]
	}
	if p := formatPath(path); p != "" {
		msg = p + ": " + msg
	}
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", name, line, msg)
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// yamlLine returns the line in the YAML (or JSON) document data of the
// deepest node along path, or 0 when data does not parse. Keys match by
// proto name or by its JSON (lowerCamel) name.
func yamlLine(data []byte, path []pathSeg) int {
	var doc yamlv3.Node
	if yamlv3.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n := doc.Content[0]
	line := n.Line
	for _, s := range path {
		for i := 0; i < 8 && n.Kind == yamlv3.AliasNode && n.Alias != nil; i++ {
			n = n.Alias
		}
		next, at := yamlChild(n, s)
		if next == nil {
			break
		}
		n, line = next, at
	}
	return line
}

// yamlChild returns the node under n at s and the line it is named on.
func yamlChild(n *yamlv3.Node, s pathSeg) (*yamlv3.Node, int) {
	switch {
	case s.isIndex && n.Kind == yamlv3.SequenceNode && s.index < len(n.Content):
		c := n.Content[s.index]
		return c, c.Line
	case !s.isIndex && n.Kind == yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value == s.key || k.Value == lowerCamel(s.key) {
				return n.Content[i+1], k.Line
			}
		}
	}
	return nil, 0
}

// lowerCamel is protojson's JSON name for a proto field name.
func lowerCamel(name string) string {
	var b strings.Builder
	upper := false
	for _, r := range name {
		switch {
		case r == '_':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
