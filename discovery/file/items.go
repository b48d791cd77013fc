package file

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshlb/meshlb/discovery"
)

// items remembers the services of a file's last parse by the text of their
// list items, so that parsing the file again decodes only the items whose
// text changed. An edit of one endpoint of a 2,000-service file parses one
// item instead of the whole file.
type items map[string]*item

// item is one decoded services[i]: its service and what it declares, with
// lines relative to the item's first line (1) and paths without the
// "services[i]" prefix.
type item struct {
	service discovery.Service
	name    claim
	id      *claim // nil without a sidecar
	refs    []ref
}

// parseCached is parseFile, reusing the items of prev whose text is
// unchanged. It returns the items of this parse for the next one (nil
// after an error). Only a file of the plain layout (see [splitItems]) whose
// items are all valid on their own and declare distinct names and ids
// takes this path; any other file, valid or not, is parsed whole by
// parseFile, so the result and errors are always parseFile's.
func parseCached(name string, data []byte, prev items) (*fileDecl, items, error) {
	if f, next := fastParse(name, data, prev); f != nil {
		return f, next, nil
	}
	f, err := parseFile(name, data)
	if err != nil {
		return nil, nil, err
	}
	return f, nil, nil
}

// fastParse returns the file's declaration and its items, or nil if the
// file must be parsed whole.
func fastParse(name string, data []byte, prev items) (*fileDecl, items) {
	rootLine, starts, ok := splitItems(data)
	if !ok || (&decoder{name: name}).checkText(data) != nil {
		return nil, nil
	}
	f := &fileDecl{name: name, rootLine: rootLine, services: make([]discovery.Service, 0, len(starts)),
		names: make(map[string]claim, len(starts)), ids: map[string]claim{}}
	next := make(items, len(starts))
	for i, st := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1].offset
		}
		text := data[st.offset:end]
		it := prev[string(text)]
		if it == nil {
			if it = parseItem(name, text); it == nil {
				return nil, nil
			}
		}
		next[string(text)] = it
		if !f.add(it, i, st.line-1) {
			return nil, nil
		}
	}
	return f, next
}

// add appends services[i], whose first line is offset+1, to f. It returns
// false if its name or sidecar id is already declared.
func (f *fileDecl) add(it *item, i, offset int) bool {
	prefix := index("services", i)
	place := func(c claim) claim {
		c.line += offset
		c.path = prefix + c.path
		return c
	}
	if _, dup := f.names[it.name.service]; dup {
		return false
	}
	f.names[it.name.service] = place(it.name)
	if it.id != nil {
		id := sidecarID(it.service)
		if _, dup := f.ids[id]; dup {
			return false
		}
		f.ids[id] = place(*it.id)
	}
	for _, r := range it.refs {
		f.refs = append(f.refs, ref{service: r.service, line: r.line + offset, path: prefix + r.path})
	}
	f.services = append(f.services, it.service)
	return true
}

// parseItem decodes the text of one list item as a document of its own; nil
// if it is not exactly one valid service.
func parseItem(name string, text []byte) *item {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode || len(doc.Content[0].Content) != 1 {
		return nil
	}
	const prefix = "services[0]"
	d := &decoder{name: name, names: map[string]claim{}, ids: map[string]claim{}}
	s, err := d.service(doc.Content[0].Content[0], prefix)
	if err != nil {
		return nil
	}
	it := &item{service: s, name: d.names[s.Name]}
	it.name.path = strings.TrimPrefix(it.name.path, prefix)
	if s.Sidecar != nil {
		c := d.ids[sidecarID(s)]
		c.path = strings.TrimPrefix(c.path, prefix)
		it.id = &c
	}
	for _, r := range d.refs {
		r.path = strings.TrimPrefix(r.path, prefix)
		it.refs = append(it.refs, r)
	}
	return it
}

// itemStart is where a list item begins: its byte offset and its line.
type itemStart struct {
	offset, line int
}

// splitItems finds the items of a file of the plain layout: blank and
// comment lines, a line "services:", then a block sequence whose items
// start with "- " at one indentation, every other line blank, a comment or
// indented deeper. It returns the line of "services:" and where each item
// starts; ok is false for any other file, or one with anchors or aliases
// (which may cross items), carriage returns, tabs or a byte-order mark.
// YAML ends a block scalar, a multi-line flow collection or a quoted
// scalar before a line indented less than its parent, so such a line is
// always a new item.
func splitItems(data []byte) (rootLine int, starts []itemStart, ok bool) {
	if bytes.ContainsAny(data, "&*\r\t\ufeff") {
		return 0, nil, false
	}
	indent := -1
	line := 0
	for off := 0; off < len(data); {
		line++
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data) - off
		}
		text := data[off : off+end]
		start := off
		off += end + 1
		body := bytes.TrimLeft(text, " ")
		if len(body) == 0 || body[0] == '#' {
			continue
		}
		depth := len(text) - len(body)
		switch {
		case rootLine == 0:
			if string(text) != "services:" {
				return 0, nil, false
			}
			rootLine = line
		case indent < 0:
			if depth == 0 || !bytes.HasPrefix(body, []byte("- ")) {
				return 0, nil, false
			}
			indent = depth
			starts = append(starts, itemStart{offset: start, line: line})
		case depth == indent && bytes.HasPrefix(body, []byte("- ")):
			starts = append(starts, itemStart{offset: start, line: line})
		case depth <= indent:
			return 0, nil, false
		}
	}
	return rootLine, starts, len(starts) > 0
}
