package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// fieldError is an error at one field of a resource. Its path uses Envoy's
// proto field names ("filter_chains[0].filters[0].typed_config"), relative
// to whatever wraps it; an empty path means the enclosing message itself.
type fieldError struct {
	path string
	err  error
}

func (e *fieldError) Error() string {
	if e.path == "" {
		return e.err.Error()
	}
	return e.path + ": " + e.err.Error()
}

func (e *fieldError) Unwrap() error { return e.err }

// resourceError is an error in one named xDS resource, e.g.
// `cluster "be": lb_policy: MAGLEV is not supported`.
type resourceError struct {
	kind, name string
	err        error
}

func (e *resourceError) Error() string {
	return fmt.Sprintf("%s %q: %v", e.kind, e.name, e.err)
}

func (e *resourceError) Unwrap() error { return e.err }

// errorf returns an error at path.
func errorf(path, format string, args ...any) error {
	return &fieldError{path: path, err: fmt.Errorf(format, args...)}
}

// within places err, an error inside the field parent, under parent's path.
// Nested field errors are flattened into one path.
func within(parent string, err error) error {
	if fe, ok := err.(*fieldError); ok {
		return &fieldError{path: joinPath(parent, fe.path), err: fe.err}
	}
	return &fieldError{path: parent, err: err}
}

// index names element i of the repeated field name: "filters[2]".
func index(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}

func joinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + "." + child
}

// errorPath returns the full field path of err, through any field and
// resource errors it wraps.
func errorPath(err error) string {
	var path string
	for err != nil {
		switch e := err.(type) {
		case *fieldError:
			path = joinPath(path, e.path)
		case *resourceError:
		default:
			return path
		}
		err = errors.Unwrap(err)
	}
	return path
}

// pgvError is the shape of the errors protoc-gen-validate generates.
type pgvError interface {
	Field() string
	Reason() string
	Cause() error
}

// validationError turns an error from a generated ValidateAll into a
// *fieldError with a proto field path: PGV names fields by their Go names
// ("FilterChains[0]") and nests one error per message level.
func validationError(err error) error {
	var path string
	for {
		if m, ok := err.(interface{ AllErrors() []error }); ok && len(m.AllErrors()) > 0 {
			err = m.AllErrors()[0]
		}
		v, ok := err.(pgvError)
		if !ok {
			return &fieldError{path: path, err: err}
		}
		path = joinPath(path, snakeCase(v.Field()))
		if v.Cause() == nil {
			return &fieldError{path: path, err: errors.New(v.Reason())}
		}
		err = v.Cause()
	}
}

// snakeCase turns a PGV field name ("Http2ProtocolOptions[0]") into the
// proto name ("http2_protocol_options[0]"). Map keys in brackets are kept.
func snakeCase(goName string) string {
	name, rest, _ := strings.Cut(goName, "[")
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	if rest != "" {
		b.WriteString("[" + rest)
	}
	return b.String()
}
