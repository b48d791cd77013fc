package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// envoyLenient rewrites the JSON document js, to be decoded into a message
// of type desc, into the stricter form protojson reads, accepting what
// Envoy's own JSON/YAML loader (protobuf C++'s JSON parser) accepts:
//
//   - a single value where a repeated field is expected is a list of one
//     (`consul connect envoy -bootstrap` writes ads_config.grpc_services
//     as one object);
//   - a google.protobuf.Duration written as {seconds, nanos}.
//
// It returns js unchanged, and changed false, when nothing needed
// rewriting or js does not parse; protojson then reports any error.
func envoyLenient(js []byte, desc protoreflect.MessageDescriptor) (out []byte, changed bool) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if dec.Decode(&doc) != nil {
		return js, false
	}
	doc, changed = lenientMessage(doc, desc)
	if !changed {
		return js, false
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return js, false
	}
	return b, true
}

// lenientMessage rewrites v, the JSON of a message of type desc.
func lenientMessage(v any, desc protoreflect.MessageDescriptor) (any, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return v, false
	}
	switch desc.FullName() {
	case "google.protobuf.Duration":
		return lenientDuration(obj)
	case "google.protobuf.Any":
		return lenientAny(obj)
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return v, false
	}
	changed := false
	for k, fv := range obj {
		fd := fieldByJSONKey(desc, k)
		if fd == nil {
			continue
		}
		nv, c := lenientField(fv, fd)
		if c {
			obj[k], changed = nv, true
		}
	}
	return obj, changed
}

// lenientField rewrites v, the JSON of field fd.
func lenientField(v any, fd protoreflect.FieldDescriptor) (any, bool) {
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok || fd.MapValue().Message() == nil {
			return v, false
		}
		changed := false
		for k, e := range m {
			if ne, c := lenientMessage(e, fd.MapValue().Message()); c {
				m[k], changed = ne, true
			}
		}
		return m, changed
	case fd.IsList():
		list, ok := v.([]any)
		wrapped := false
		if !ok {
			if v == nil {
				return v, false
			}
			list, wrapped = []any{v}, true
		}
		changed := wrapped
		if fd.Message() != nil {
			for i, e := range list {
				if ne, c := lenientMessage(e, fd.Message()); c {
					list[i], changed = ne, true
				}
			}
		}
		return list, changed
	case fd.Message() != nil:
		return lenientMessage(v, fd.Message())
	}
	return v, false
}

// lenientAny rewrites the embedded message of an Any whose @type is known.
func lenientAny(obj map[string]any) (any, bool) {
	url, _ := obj["@type"].(string)
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if err != nil {
		return obj, false
	}
	if isWellKnown(mt.Descriptor()) {
		nv, c := lenientMessage(obj["value"], mt.Descriptor())
		if c {
			obj["value"] = nv
		}
		return obj, c
	}
	return lenientMessage(obj, mt.Descriptor())
}

// isWellKnown reports whether protojson writes messages of desc's type in
// an Any under "value" (the types with a special JSON form).
func isWellKnown(desc protoreflect.MessageDescriptor) bool {
	return desc.ParentFile().Package() == "google.protobuf" &&
		!strings.HasSuffix(string(desc.FullName()), "Descriptor")
}

// lenientDuration turns {seconds, nanos} into protojson's "1.5s".
func lenientDuration(obj map[string]any) (any, bool) {
	var secs, nanos int64
	for k, v := range obj {
		n, ok := v.(json.Number)
		if !ok {
			s, isStr := v.(string)
			if !isStr {
				return obj, false
			}
			n = json.Number(s)
		}
		i, err := n.Int64()
		if err != nil {
			return obj, false
		}
		switch k {
		case "seconds":
			secs = i
		case "nanos":
			nanos = i
		default:
			return obj, false
		}
	}
	if (secs < 0 && nanos > 0) || (secs > 0 && nanos < 0) || nanos <= -1e9 || nanos >= 1e9 {
		return obj, false // protojson reports the invalid duration
	}
	sign := ""
	if secs < 0 || nanos < 0 {
		sign, secs, nanos = "-", -secs, -nanos
	}
	return fmt.Sprintf("%s%d.%09ds", sign, secs, nanos), true
}

// fieldByJSONKey finds the field of desc named k by its proto name or
// its JSON name, as protojson does.
func fieldByJSONKey(desc protoreflect.MessageDescriptor, k string) protoreflect.FieldDescriptor {
	fields := desc.Fields()
	if fd := fields.ByName(protoreflect.Name(k)); fd != nil {
		return fd
	}
	return fields.ByJSONName(k)
}
