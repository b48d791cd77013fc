// Package file is a [discovery.Source] backed by a services.yaml file, and
// the parser for that format.
//
// The format, with defaults noted:
//
//	services:
//	  - name: web
//	    protocol: http          # tcp (default) | http
//	    endpoints:
//	      - address: 127.0.0.1
//	        port: 9001
//	        weight: 1           # 1-128, default 1
//	        health: healthy     # healthy (default) | unhealthy | draining
//	    sidecar:                # optional
//	      id: web               # xDS node id, default the service name
//	      inbound_port: 21000   # optional; needs local_port
//	      inbound_address: 127.0.0.1  # optional, default 127.0.0.1
//	      local_port: 9001      # the local application
//	      local_address: 127.0.0.1    # optional, default 127.0.0.1
//	      upstreams:
//	        - service: api
//	          bind_port: 10001
//	          bind_address: 127.0.0.1 # optional, default 127.0.0.1
//
// Parsing is strict: unknown or duplicate keys, values of the wrong YAML
// type (a quoted "9001" is not a port), empty files and multiple documents
// are errors. Anchors and aliases are allowed; merge keys ("<<") are not.
package file

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/meshlb/meshlb/discovery"
)

// decoder walks one services.yaml document. It is used for a single file.
type decoder struct {
	name  string
	names map[string]claim // service name -> where it is declared
	ids   map[string]claim // sidecar id -> where it is claimed
	refs  []ref            // upstream references, checked once all names are known
}

// claim is where a service name or sidecar id is declared.
type claim struct {
	service string // the service declaring it
	line    int
	path    string
}

// ref is an upstream's reference to a service by name.
type ref struct {
	service string
	line    int
	path    string
}

// Parse decodes a services.yaml document into a validated catalog. name
// identifies the document in errors, which read "name:line: path: message",
// for example "services.yaml:12: services[1].endpoints[0].port: 70000 is out
// of range 1-65535". Parse reports the first error only. It never panics
// and is safe for concurrent use.
func Parse(name string, data []byte) (*discovery.Catalog, error) {
	f, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	return merge([]*fileDecl{f})
}

// parseFile decodes one services.yaml document and checks it on its own;
// the references between services are checked by [merge], across files.
func parseFile(name string, data []byte) (*fileDecl, error) {
	d := &decoder{name: name, names: map[string]claim{}, ids: map[string]claim{}}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	f := &fileDecl{name: name, rootLine: root.Line, names: d.names, ids: d.ids}
	if err := d.root(root, f); err != nil {
		return nil, err
	}
	f.refs = d.refs
	return f, nil
}

// document decodes data into its single YAML document's root node.
func (d *decoder) document(data []byte) (*yaml.Node, error) {
	if err := d.checkText(data); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, d.failAt(1, "", "file is empty")
	} else if err != nil {
		return nil, d.syntaxError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, d.failAt(next.Line, "", "multiple YAML documents are not supported")
	} else if !errors.Is(err, io.EOF) {
		return nil, d.syntaxError(err)
	}
	if len(doc.Content) == 0 || deref(doc.Content[0]).ShortTag() == "!!null" {
		return nil, d.failAt(doc.Line, "", "file is empty")
	}
	return doc.Content[0], nil
}

// checkText rejects what the YAML reader rejects without a line: invalid
// UTF-8 and control characters.
func (d *decoder) checkText(data []byte) error {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size == 1:
			return d.failAt(line, "", "invalid UTF-8")
		case !printable(r):
			return d.failAt(line, "", "control character %U is not allowed", r)
		case r == '\n':
			line++
		}
		data = data[size:]
	}
	return nil
}

// printable reports whether YAML 1.2 allows r in a stream (section 5.1).
func printable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
		(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
}

// syntaxError locates a yaml.v3 syntax error. yaml.v3 has no typed syntax
// error, so the line is taken from its "yaml: line N: " prefix, which is
// absent when the error is on the first line. For some parser errors yaml.v3
// reports the line before the enclosing block instead of the faulty line
// (go-yaml/yaml#205); there is no better position to recover.
func (d *decoder) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, aerr := strconv.Atoi(n); aerr == nil && l > 0 {
				line, msg = l, after
			}
		}
	}
	return &lineError{file: d.name, line: line, msg: "invalid YAML: " + msg, err: err}
}

// rootKeys are the top-level keys of a services file.
var rootKeys = []string{"services", "mesh", "intentions"}

// root decodes the top-level mapping into out.
func (d *decoder) root(n *yaml.Node, out *fileDecl) error {
	fs, err := d.fields(n, "")
	if err != nil {
		return err
	}
	found := false
	for _, f := range fs {
		switch f.key {
		case "services":
			found = true
			out.services, err = d.services(f)
		case "mesh":
			out.mesh, err = d.meshSection(f)
		case "intentions":
			out.intentionsLine = f.line
			out.intentions, err = d.intentions(f)
		default:
			err = d.unknown(f, rootKeys)
		}
		if err != nil {
			return err
		}
	}
	if !found {
		return d.missing(n, "", "services")
	}
	return nil
}

// services decodes the service list.
func (d *decoder) services(f field) ([]discovery.Service, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	out := make([]discovery.Service, 0, len(items))
	for i, item := range items {
		s, err := d.service(item, index(f.path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
