package accesslog

import (
	"fmt"

	"github.com/meshlb/meshlb/sidecar/format"
	"github.com/meshlb/meshlb/sidecar/spec"
)

// jsonFormat is a compiled json_format: one JSON object per line, its
// keys in order.
type jsonFormat struct {
	fields []jsonField
}

// jsonField is one key and its value: a format (typed as
// [format.Format.AppendJSON] says), a constant, or a nested object.
type jsonField struct {
	key    []byte // quoted, with its colon
	value  *format.Format
	konst  []byte
	object *jsonFormat
}

// compileJSON compiles j; text is false under omit_empty_values.
func (s *Set) compileJSON(j *spec.JSONFormat, text bool) (*jsonFormat, error) {
	out := &jsonFormat{}
	for _, f := range j.Fields {
		jf := jsonField{key: append(format.AppendJSONString(nil, []byte(f.Key)), ':')}
		var err error
		switch {
		case f.IsFormat:
			jf.value, err = s.parse(f.Format, text)
		case f.Object != nil:
			jf.object, err = s.compileJSON(f.Object, text)
		default:
			jf.konst = []byte(f.Const)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f.Key, err)
		}
		out.fields = append(out.fields, jf)
	}
	return out, nil
}

// append appends the object for ctx. With omitEmpty, keys whose value is
// empty (null or "") are left out.
func (j *jsonFormat) append(dst []byte, ctx *format.Context, omitEmpty bool) []byte {
	dst = append(dst, '{')
	first := true
	for i := range j.fields {
		f := &j.fields[i]
		n := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		ok := true
		switch {
		case f.value != nil:
			dst, ok = f.value.AppendJSON(dst, ctx)
		case f.object != nil:
			dst = f.object.append(dst, ctx, omitEmpty)
		default:
			dst = append(dst, f.konst...)
		}
		if !ok && omitEmpty {
			dst = dst[:n]
			continue
		}
		first = false
	}
	return append(dst, '}')
}
