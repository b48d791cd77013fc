package file

import (
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/meshlb/meshlb/discovery"
)

var (
	meshKeys       = []string{"trust_domain", "datacenter", "default_policy", "ca_cert", "ca_key", "state_dir"}
	intentionKeys  = []string{"source", "destination", "action", "permissions"}
	permissionKeys = []string{"action", "path_exact", "path_prefix", "path_regex", "methods", "headers"}
	headerKeys     = []string{"name", "present", "exact", "prefix", "suffix", "regex", "invert"}
)

// meshDecl is a file's "mesh:" section and its CA files, made absolute
// against the file's directory.
type meshDecl struct {
	mesh discovery.Mesh
	line int
}

// DefaultTrustDomain is the trust domain of a services file whose mesh
// section names none.
const DefaultTrustDomain = "meshlb.local"

// meshSection decodes "mesh:". ca_cert and ca_key go together; without
// them the CA is generated into state_dir, or in memory without one.
func (d *decoder) meshSection(f field) (*meshDecl, error) {
	fs, err := d.fields(f.value, f.path)
	if err != nil {
		return nil, err
	}
	m := &meshDecl{mesh: discovery.Mesh{TrustDomain: DefaultTrustDomain, DefaultAllow: true, CA: &discovery.CAFiles{}},
		line: f.line}
	for _, g := range fs {
		switch g.key {
		case "trust_domain":
			m.mesh.TrustDomain, err = d.nonEmpty(g)
		case "datacenter":
			m.mesh.Datacenter, err = d.nonEmpty(g)
		case "default_policy":
			var p string
			p, err = d.oneOf(g, "allow", "deny")
			m.mesh.DefaultAllow = p == "allow"
		case "ca_cert":
			m.mesh.CA.Cert, err = d.filePath(g)
		case "ca_key":
			m.mesh.CA.Key, err = d.filePath(g)
		case "state_dir":
			m.mesh.CA.StateDir, err = d.filePath(g)
		default:
			err = d.unknown(g, meshKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	if (m.mesh.CA.Cert == "") != (m.mesh.CA.Key == "") {
		return nil, d.fail(deref(f.value), f.path, "ca_cert and ca_key go together")
	}
	return m, nil
}

// filePath returns the path in f, relative to the services file's
// directory unless absolute.
func (d *decoder) filePath(f field) (string, error) {
	p, err := d.nonEmpty(f)
	if err != nil || filepath.IsAbs(p) {
		return p, err
	}
	return filepath.Join(filepath.Dir(d.name), p), nil
}

// intentions decodes "intentions:".
func (d *decoder) intentions(f field) ([]discovery.Intention, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	out := make([]discovery.Intention, 0, len(items))
	for i, item := range items {
		in, err := d.intention(item, index(f.path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// intention decodes one intention: source and destination, and action or
// permissions.
func (d *decoder) intention(n *yaml.Node, path string) (discovery.Intention, error) {
	var in discovery.Intention
	fs, err := d.fields(n, path)
	if err != nil {
		return in, err
	}
	for _, f := range fs {
		switch f.key {
		case "source":
			in.Source, err = d.nonEmpty(f)
		case "destination":
			in.Destination, err = d.nonEmpty(f)
		case "action":
			var a string
			a, err = d.oneOf(f, "allow", "deny")
			in.Action = discovery.Action(a)
		case "permissions":
			in.Permissions, err = d.permissions(f)
		default:
			err = d.unknown(f, intentionKeys)
		}
		if err != nil {
			return in, err
		}
	}
	switch {
	case in.Source == "":
		return in, d.missing(n, path, "source")
	case in.Destination == "":
		return in, d.missing(n, path, "destination")
	case in.Action == "" && len(in.Permissions) == 0:
		return in, d.missing(n, path, "action")
	case in.Action != "" && len(in.Permissions) > 0:
		return in, d.fail(deref(n), path, "action and permissions exclude each other")
	}
	return in, nil
}

// permissions decodes an L7 intention's permissions.
func (d *decoder) permissions(f field) ([]discovery.Permission, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	out := make([]discovery.Permission, 0, len(items))
	for i, item := range items {
		p, err := d.permission(item, index(f.path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (d *decoder) permission(n *yaml.Node, path string) (discovery.Permission, error) {
	var p discovery.Permission
	fs, err := d.fields(n, path)
	if err != nil {
		return p, err
	}
	paths := 0
	for _, f := range fs {
		switch f.key {
		case "action":
			var a string
			a, err = d.oneOf(f, "allow", "deny")
			p.Action = discovery.Action(a)
		case "path_exact":
			p.PathExact, err = d.nonEmpty(f)
			paths++
		case "path_prefix":
			p.PathPrefix, err = d.nonEmpty(f)
			paths++
		case "path_regex":
			p.PathRegex, err = d.nonEmpty(f)
			paths++
		case "methods":
			p.Methods, err = d.strings(f)
		case "headers":
			p.Headers, err = d.headers(f)
		default:
			err = d.unknown(f, permissionKeys)
		}
		if err != nil {
			return p, err
		}
	}
	if p.Action == "" {
		return p, d.missing(n, path, "action")
	}
	if paths > 1 {
		return p, d.fail(deref(n), path, "at most one of path_exact, path_prefix and path_regex")
	}
	return p, nil
}

// strings decodes a list of non-empty strings.
func (d *decoder) strings(f field) ([]string, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, err := d.nonEmpty(field{key: f.key, line: item.Line, value: item, path: index(f.path, i)})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *decoder) headers(f field) ([]discovery.HeaderMatch, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	out := make([]discovery.HeaderMatch, 0, len(items))
	for i, item := range items {
		h, err := d.header(item, index(f.path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func (d *decoder) header(n *yaml.Node, path string) (discovery.HeaderMatch, error) {
	var h discovery.HeaderMatch
	fs, err := d.fields(n, path)
	if err != nil {
		return h, err
	}
	for _, f := range fs {
		switch f.key {
		case "name":
			h.Name, err = d.nonEmpty(f)
		case "present":
			h.Present, err = d.boolean(f)
		case "exact":
			h.Exact, err = d.str(f)
		case "prefix":
			h.Prefix, err = d.nonEmpty(f)
		case "suffix":
			h.Suffix, err = d.nonEmpty(f)
		case "regex":
			h.Regex, err = d.nonEmpty(f)
		case "invert":
			h.Invert, err = d.boolean(f)
		default:
			err = d.unknown(f, headerKeys)
		}
		if err != nil {
			return h, err
		}
	}
	if h.Name == "" {
		return h, d.missing(n, path, "name")
	}
	return h, nil
}

// boolean returns the boolean value of f.
func (d *decoder) boolean(f field) (bool, error) {
	n := deref(f.value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, d.fail(n, f.path, "expected true or false, got %s", describe(n))
	}
	var v bool
	err := n.Decode(&v)
	return v, err
}
