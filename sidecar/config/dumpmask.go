package config

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/meshlb/meshlb/sidecar/spec"
)

// resourceConfigs returns the elements of the repeated field resource of
// the first section that has one, each trimmed to paths (Envoy's
// addResourceToDump).
func resourceConfigs(sections []proto.Message, resource string, paths []string) ([]proto.Message, error) {
	for _, s := range sections {
		m := s.ProtoReflect()
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(resource))
		if fd == nil {
			continue
		}
		if !fd.IsList() || fd.Message() == nil {
			return nil, &spec.DumpQueryError{Msg: fmt.Sprintf("%s is not a repeated field. Use ?mask=%s to get only this field", resource, resource)}
		}
		list := m.Get(fd).List()
		out := make([]proto.Message, 0, list.Len())
		for i := range list.Len() {
			el := list.Get(i).Message()
			if len(paths) > 0 {
				if err := trimResource(el, paths); err != nil {
					return nil, &spec.DumpQueryError{Msg: fmt.Sprintf("FieldMask %s could not be successfully used: %v", strings.Join(paths, ","), err)}
				}
			}
			out = append(out, el.Interface())
		}
		return out, nil
	}
	return nil, &spec.DumpQueryError{NotFound: true, Msg: resource + " not found in config dump"}
}

// maskedSections trims each section to mask, leaving out those it is not
// valid for (Envoy's addAllConfigToDump).
func maskedSections(sections []proto.Message, mask string) ([]proto.Message, error) {
	paths := maskPaths(mask)
	if len(paths) == 0 {
		return sections, nil
	}
	var out []proto.Message
	for _, s := range sections {
		if trimTo(s.ProtoReflect(), paths) == nil {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, &spec.DumpQueryError{Msg: fmt.Sprintf("FieldMask %s could not be successfully applied to any configs.", mask)}
	}
	return out, nil
}

// trimResource trims a dump element to paths. A path whose first part
// names the element's Any field goes on into the resource in it: the Any
// is unpacked, trimmed to the rest of those paths and packed again.
func trimResource(el protoreflect.Message, paths []string) error {
	var outer, inner []string
	var anyField protoreflect.FieldDescriptor
	whole := false // a path names the Any field itself
	for _, p := range paths {
		first, rest, _ := strings.Cut(p, ".")
		fd := el.Descriptor().Fields().ByName(protoreflect.Name(first))
		if fd == nil || fd.IsList() || fd.Message() == nil || fd.Message().FullName() != anyName {
			outer = append(outer, p)
			continue
		}
		if anyField != nil && anyField != fd {
			return fmt.Errorf("paths go into two Any fields, %s and %s", anyField.Name(), fd.Name())
		}
		anyField = fd
		outer = append(outer, first)
		if rest == "" {
			whole = true
		} else {
			inner = append(inner, rest)
		}
	}
	if anyField != nil && !whole && el.Has(anyField) {
		if err := trimAny(el, anyField, inner); err != nil {
			return err
		}
	}
	return trimTo(el, outer)
}

// trimAny trims the resource in the Any field fd of m to paths.
func trimAny(m protoreflect.Message, fd protoreflect.FieldDescriptor, paths []string) error {
	res, err := anyOf(m, fd).UnmarshalNew()
	if err != nil {
		return err
	}
	if err := trimTo(res.ProtoReflect(), paths); err != nil {
		return err
	}
	a, err := anypb.New(res)
	if err != nil {
		return err
	}
	m.Set(fd, protoreflect.ValueOfMessage(a.ProtoReflect()))
	return nil
}

// trimTo keeps only the fields of m that paths name, as protobuf's
// FieldMaskUtil::TrimMessage, after checking that each path names fields
// of m's type (no path goes through a repeated field).
func trimTo(m protoreflect.Message, paths []string) error {
	if _, err := fieldmaskpb.New(m.Interface(), paths...); err != nil {
		return err
	}
	trimTree(m, maskTree(paths))
	return nil
}

// fieldTree is a field mask as a tree: a nil subtree keeps the whole
// field.
type fieldTree map[protoreflect.Name]fieldTree

func maskTree(paths []string) fieldTree {
	root := fieldTree{}
	for _, p := range paths {
		node := root
		frags := strings.Split(p, ".")
		for i, f := range frags {
			name := protoreflect.Name(f)
			sub, seen := node[name]
			if seen && sub == nil {
				break // the whole field is kept already
			}
			if i == len(frags)-1 {
				node[name] = nil
				break
			}
			if sub == nil {
				sub = fieldTree{}
				node[name] = sub
			}
			node = sub
		}
	}
	return root
}

func trimTree(m protoreflect.Message, t fieldTree) {
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		sub, ok := t[fd.Name()]
		switch {
		case !ok:
			m.Clear(fd)
		case sub != nil:
			trimTree(m.Mutable(fd).Message(), sub)
		}
		return true
	})
}
